package dev.trellis.router.auth;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.trellis.router.config.RouterConfig;

/** Binds the bearer-token interceptor. */
public final class AuthModule extends AbstractModule {
    @Provides
    @Singleton
    AuthInterceptor authInterceptor(RouterConfig config) {
        return new AuthInterceptor(new Tokens(config.adminToken()), new Tokens(config.scoringToken()));
    }
}
