package dev.trellis.router.rollout;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.trellis.experiments.ExperimentManager;
import dev.trellis.experiments.store.ExperimentStore;
import dev.trellis.router.config.RouterConfig;
import java.util.UUID;
import java.util.concurrent.Executors;

/** Binds the per-version windows and the rollout controller with its own tick thread. */
public final class RolloutModule extends AbstractModule {
    @Override
    protected void configure() {
        bind(VersionWindows.class).in(Singleton.class);
    }

    @Provides
    @Singleton
    RolloutController controller(
            ExperimentManager experiments, ExperimentStore store, VersionWindows windows, RouterConfig config) {
        return new RolloutController(
                experiments,
                store,
                "router-" + UUID.randomUUID(),
                windows,
                Executors.newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "trellis-rollout");
                    t.setDaemon(true);
                    return t;
                }),
                config.rolloutTick());
    }
}
