package dev.trellis.modelserver.health;

import com.google.inject.AbstractModule;
import com.google.inject.Scopes;
import io.grpc.protobuf.services.HealthStatusManager;

/** Binds the gRPC health service and what drives it. */
public final class HealthModule extends AbstractModule {
    @Override
    protected void configure() {
        bind(HealthStatusManager.class).in(Scopes.SINGLETON);
        bind(ServingHealth.class).in(Scopes.SINGLETON);
    }
}
