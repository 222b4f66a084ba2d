package dev.trellis.modelserver.inference;

import com.google.inject.AbstractModule;
import com.google.inject.Scopes;

/** Binds the Open Inference Protocol service. */
public final class InferenceModule extends AbstractModule {
    @Override
    protected void configure() {
        bind(InferenceService.class).in(Scopes.SINGLETON);
    }
}
