package dev.trellis.modelserver.auth;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import dev.trellis.common.auth.BearerAuthInterceptor;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.errors.GrpcErrors;
import dev.trellis.modelserver.telemetry.ServerMetrics;
import io.grpc.Status;
import jakarta.inject.Singleton;

/** Binds the bearer-token check of the model-server's port ({@link ModelServerAccess}). */
public final class AuthModule extends AbstractModule {
    @Provides
    @Singleton
    BearerAuthInterceptor auth(ModelServerConfig config, ServerMetrics metrics) {
        return new BearerAuthInterceptor(
                ModelServerAccess.POLICY,
                config.adminToken(),
                config.inferenceToken(),
                new BearerAuthInterceptor.Settings(
                        GrpcErrors.DOMAIN,
                        "inference",
                        Status.Code.UNAUTHENTICATED,
                        "repository mutations are disabled: start the model-server with --admin-token-file"),
                (method, denial) -> metrics.recordAuthDenied(method.getBareMethodName(), denial.name()));
    }
}
