package dev.trellis.modelserver.config;

import static java.util.Objects.requireNonNull;

import com.google.inject.AbstractModule;

/** Binds the server's configuration. */
public final class ConfigModule extends AbstractModule {
    private final ModelServerConfig config;

    public ConfigModule(ModelServerConfig config) {
        this.config = requireNonNull(config, "config is null");
    }

    @Override
    protected void configure() {
        bind(ModelServerConfig.class).toInstance(config);
    }
}
