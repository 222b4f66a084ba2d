package dev.trellis.router.auth;

import io.grpc.Context;

/** Who made an admin call, as recorded in definition histories. */
public final class Actor {
    /** Set by {@link AuthInterceptor} for every call; "anonymous" on open calls without a credential. */
    public static final Context.Key<String> KEY = Context.keyWithDefault("trellis-actor", "anonymous");

    private Actor() {}

    public static String current() {
        return KEY.get();
    }
}
