package dev.trellis.router.routing;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.trellis.experiments.ExperimentManager;
import dev.trellis.experiments.assignment.RoutingDecider;
import dev.trellis.experiments.definition.DefinitionValidator;
import dev.trellis.experiments.store.ExperimentStore;
import dev.trellis.experiments.store.ExperimentStores;
import dev.trellis.experiments.store.StoreOptions;
import dev.trellis.router.config.RouterConfig;
import java.time.Clock;

/** Binds the experiments module's store, manager and decider, the routing service and its fallbacks. */
public final class RoutingModule extends AbstractModule {
    @Override
    protected void configure() {
        bind(RoutingService.class).in(Singleton.class);
        bind(Fallbacks.class).in(Singleton.class);
    }

    @Provides
    @Singleton
    ExperimentStore store(RouterConfig config, Clock clock) {
        return ExperimentStores.open(
                config.store(),
                config.storePassword(),
                clock,
                StoreOptions.defaults().withRetention(config.retention()));
    }

    @Provides
    @Singleton
    ExperimentManager experimentManager(ExperimentStore store, Clock clock) {
        return new ExperimentManager(store, clock, new DefinitionValidator());
    }

    @Provides
    @Singleton
    RoutingDecider routingDecider() {
        return new RoutingDecider();
    }
}
