package dev.trellis.modelserver.repository;

import com.google.inject.AbstractModule;
import com.google.inject.Scopes;

/** Binds the model repository and the bundle reader it loads versions with. */
public final class RepositoryModule extends AbstractModule {
    @Override
    protected void configure() {
        bind(BundleReader.class).to(EnsembleBundleReader.class).in(Scopes.SINGLETON);
        bind(ModelRepository.class).in(Scopes.SINGLETON);
    }
}
