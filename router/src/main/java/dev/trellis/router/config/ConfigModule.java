package dev.trellis.router.config;

import static java.util.Objects.requireNonNull;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.trellis.router.upstream.UpstreamConfig;
import java.time.Clock;

/** Binds the configuration and the clock. */
public final class ConfigModule extends AbstractModule {
    private final RouterConfig config;
    private final Clock clock;

    public ConfigModule(RouterConfig config, Clock clock) {
        this.config = requireNonNull(config, "config is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    @Override
    protected void configure() {
        bind(RouterConfig.class).toInstance(config);
        bind(Clock.class).toInstance(clock);
    }

    @Provides
    @Singleton
    UpstreamConfig upstreamConfig(RouterConfig config) {
        return UpstreamConfig.from(config);
    }
}
