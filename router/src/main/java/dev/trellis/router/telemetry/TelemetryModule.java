package dev.trellis.router.telemetry;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.trellis.common.telemetry.GrpcInstrumentation;
import dev.trellis.router.config.RouterConfig;
import io.opentelemetry.api.OpenTelemetry;

/** Binds the OpenTelemetry SDK (owned by {@link Telemetry}), the instruments and the gRPC instrumentation. */
public final class TelemetryModule extends AbstractModule {
    @Override
    protected void configure() {
        bind(ScoringMetrics.class).in(Singleton.class);
        bind(CallMetrics.class).in(Singleton.class);
    }

    @Provides
    @Singleton
    Telemetry telemetry(RouterConfig config) {
        return new Telemetry(config);
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
