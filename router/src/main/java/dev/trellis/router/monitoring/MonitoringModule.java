package dev.trellis.router.monitoring;

import com.google.inject.AbstractModule;
import com.google.inject.Singleton;

/** Binds the Monitoring service and its parts. */
public final class MonitoringModule extends AbstractModule {
    @Override
    protected void configure() {
        bind(DriftService.class).in(Singleton.class);
        bind(PayloadSampler.class).in(Singleton.class);
        bind(PayloadReads.class).in(Singleton.class);
        bind(BundleMetrics.class).in(Singleton.class);
        bind(PerformanceGauges.class).in(Singleton.class);
        bind(OperationsGauges.class).asEagerSingleton();
        bind(PerformanceRefresh.class).in(Singleton.class);
        bind(MonitoringService.class).in(Singleton.class);
    }
}
