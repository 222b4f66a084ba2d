package dev.trellis.ensemble.training;

/** Hears about long training steps (e.g. "fold 2/5: fitted lightgbm in 3.1s"). Called from training worker threads, one call at a time. */
@FunctionalInterface
public interface ProgressListener {
    ProgressListener NONE = message -> {};

    void step(String message);
}
