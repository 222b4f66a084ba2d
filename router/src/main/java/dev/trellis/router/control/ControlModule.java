package dev.trellis.router.control;

import com.google.inject.AbstractModule;
import com.google.inject.Singleton;

/** Binds the control plane. */
public final class ControlModule extends AbstractModule {
    @Override
    protected void configure() {
        bind(ControlPlane.class).in(Singleton.class);
    }
}
