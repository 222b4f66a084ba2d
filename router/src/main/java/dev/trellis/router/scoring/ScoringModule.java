package dev.trellis.router.scoring;

import com.google.inject.AbstractModule;
import com.google.inject.Singleton;

/** Binds the scoring path and service. */
public final class ScoringModule extends AbstractModule {
    @Override
    protected void configure() {
        bind(ExposureLog.class).in(Singleton.class);
        bind(ScoreExecutor.class).in(Singleton.class);
        bind(ScoringService.class).in(Singleton.class);
    }
}
