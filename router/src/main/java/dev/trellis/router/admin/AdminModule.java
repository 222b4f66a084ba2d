package dev.trellis.router.admin;

import com.google.inject.AbstractModule;
import com.google.inject.Singleton;

/** Binds the Experiments admin service. */
public final class AdminModule extends AbstractModule {
    @Override
    protected void configure() {
        bind(ExperimentsService.class).in(Singleton.class);
    }
}
