package dev.trellis.modelserver.batching;

import com.google.inject.AbstractModule;
import com.google.inject.Scopes;

/** Binds the factory of per-version batchers. */
public final class BatchingModule extends AbstractModule {
    @Override
    protected void configure() {
        bind(BatcherFactory.class).in(Scopes.SINGLETON);
    }
}
