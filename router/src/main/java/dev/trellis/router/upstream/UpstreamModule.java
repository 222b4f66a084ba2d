package dev.trellis.router.upstream;

import com.google.inject.AbstractModule;
import com.google.inject.Singleton;

/** Binds the pool channel and the catalog. */
public final class UpstreamModule extends AbstractModule {
    @Override
    protected void configure() {
        bind(UpstreamPool.class).in(Singleton.class);
        bind(ModelCatalog.class).in(Singleton.class);
    }
}
