package dev.trellis.router.auth;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.auth.Access;
import dev.trellis.common.auth.BearerAuthInterceptor;
import dev.trellis.common.auth.BearerToken;
import dev.trellis.router.errors.StatusMapper;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Bearer-token check for the public port, installed for the whole server, deny by default
 * ({@link RouterAccess}):
 *
 * <ul>
 *   <li>Admin methods (every {@code trellis.v1.Experiments} method that is not a read, and any
 *       method nobody listed) need {@code authorization: Bearer <admin token>}: none →
 *       UNAUTHENTICATED, a wrong one → PERMISSION_DENIED. Without a configured admin token the
 *       admin API is closed (PERMISSION_DENIED): a router reachable inside a cluster with an open
 *       admin API lets anyone re-route production traffic, so the safe failure is "off".</li>
 *   <li>{@code trellis.v1.Scoring} needs the scoring token when one is configured (the admin
 *       token is accepted there too).</li>
 *   <li>Reads, health and reflection are open.</li>
 * </ul>
 *
 * Every refusal is one WARN line (method, peer, reason; never the token) and a count by reason.
 * The actor recorded in histories is the {@code x-trellis-actor} header of an admitted admin call
 * (sanitized), else "admin". Thread-safe.
 */
public final class AuthInterceptor implements ServerInterceptor {
    public static final Metadata.Key<String> AUTHORIZATION = BearerAuthInterceptor.AUTHORIZATION;
    public static final Metadata.Key<String> ACTOR =
            Metadata.Key.of("x-trellis-actor", Metadata.ASCII_STRING_MARSHALLER);

    private static final Pattern ACTOR_NAME = Pattern.compile("[A-Za-z0-9._@:+-]{1,64}");

    private final BearerAuthInterceptor bearer;

    public AuthInterceptor(
            Optional<BearerToken> adminToken,
            Optional<BearerToken> scoringToken,
            BearerAuthInterceptor.DenialListener denials) {
        this.bearer = new BearerAuthInterceptor(
                RouterAccess.POLICY,
                requireNonNull(adminToken, "adminToken is null"),
                requireNonNull(scoringToken, "scoringToken is null"),
                new BearerAuthInterceptor.Settings(
                        StatusMapper.DOMAIN,
                        "scoring",
                        Status.Code.PERMISSION_DENIED,
                        "the admin API is disabled: start the router with --admin-token-file or TRELLIS_ADMIN_TOKEN"),
                denials);
    }

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
            ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        if (RouterAccess.POLICY.access(call.getMethodDescriptor()) != Access.ADMIN) {
            return bearer.interceptCall(call, headers, next);
        }
        // admitted admin calls run as the actor they name
        return bearer.interceptCall(call, headers, (admitted, metadata) -> {
            Context context = Context.current().withValue(Actor.KEY, actorName(metadata));
            return Contexts.interceptCall(context, admitted, metadata, next);
        });
    }

    private static String actorName(Metadata headers) {
        String name = headers.get(ACTOR);
        if (name == null || !ACTOR_NAME.matcher(name).matches()) {
            return "admin";
        }
        return name;
    }
}
