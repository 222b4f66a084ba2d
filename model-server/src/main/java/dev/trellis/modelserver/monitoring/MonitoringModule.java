package dev.trellis.modelserver.monitoring;

import com.google.inject.AbstractModule;
import com.google.inject.Scopes;

/** Binds the live profiles, their drift gauges and the ReplicaMonitoring service. */
public final class MonitoringModule extends AbstractModule {
    @Override
    protected void configure() {
        bind(LiveProfiles.class).in(Scopes.SINGLETON);
        bind(DriftGauges.class).asEagerSingleton();
        bind(ReplicaMonitoringService.class).in(Scopes.SINGLETON);
    }
}
