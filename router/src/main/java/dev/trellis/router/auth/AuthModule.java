package dev.trellis.router.auth;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.trellis.common.auth.BearerToken;
import dev.trellis.router.config.RouterConfig;
import dev.trellis.router.telemetry.CallMetrics;

/** Binds the bearer-token interceptor. */
public final class AuthModule extends AbstractModule {
    @Provides
    @Singleton
    AuthInterceptor authInterceptor(RouterConfig config, CallMetrics metrics) {
        return new AuthInterceptor(
                config.adminToken().map(BearerToken::of), config.scoringToken().map(BearerToken::of), metrics::denied);
    }
}
