package dev.trellis.modelserver.telemetry;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Scopes;
import dev.trellis.common.telemetry.GrpcInstrumentation;
import io.opentelemetry.api.OpenTelemetry;
import jakarta.inject.Singleton;

/** Binds the OpenTelemetry SDK, the server's instruments and the gRPC instrumentation. */
public final class TelemetryModule extends AbstractModule {
    @Override
    protected void configure() {
        bind(Telemetry.class).in(Scopes.SINGLETON);
        bind(ServerMetrics.class).in(Scopes.SINGLETON);
    }

    @Provides
    @Singleton
    OpenTelemetry openTelemetry(Telemetry telemetry) {
        return telemetry.openTelemetry();
    }

    @Provides
    @Singleton
    GrpcInstrumentation grpcInstrumentation(OpenTelemetry openTelemetry) {
        return new GrpcInstrumentation(openTelemetry);
    }
}
