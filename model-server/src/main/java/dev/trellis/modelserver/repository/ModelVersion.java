package dev.trellis.modelserver.repository;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.modelserver.batching.Batcher;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * One version of one model: its lifecycle state and, while READY, STALE or DRAINING, its bundle and
 * batcher. Requests hold a reference ({@link #tryAcquire} / {@link #release}) for their whole
 * duration, so a draining version is closed only after the last of them finished. Only the
 * repository changes the state. Thread-safe.
 */
public final class ModelVersion {
    private final String model;
    private final int version;
    private final Path directory;

    private final Object lock = new Object();

    @GuardedBy("lock")
    private VersionState state = VersionState.LOADING;

    @GuardedBy("lock")
    private String reason = "";

    @GuardedBy("lock")
    private int inFlight;

    @GuardedBy("lock")
    private LoadedBundle bundle;

    @GuardedBy("lock")
    private Batcher batcher;

    @GuardedBy("lock")
    private BundleFingerprint fingerprint;

    ModelVersion(String model, int version, Path directory) {
        this.model = requireNonNull(model, "model is null");
        this.version = version;
        this.directory = requireNonNull(directory, "directory is null");
    }

    public String model() {
        return model;
    }

    public int version() {
        return version;
    }

    public Path directory() {
        return directory;
    }

    public VersionState state() {
        synchronized (lock) {
            return state;
        }
    }

    public VersionStatus status() {
        synchronized (lock) {
            return new VersionStatus(model, version, state, reason);
        }
    }

    /** The ensemble; only while READY or DRAINING, e.g. while holding a reference. */
    public Ensemble ensemble() {
        synchronized (lock) {
            if (bundle == null) {
                throw new IllegalStateException(this + " is not loaded");
            }
            return bundle.ensemble();
        }
    }

    /** The batcher; only while READY or DRAINING, e.g. while holding a reference. */
    public Batcher batcher() {
        synchronized (lock) {
            if (batcher == null) {
                throw new IllegalStateException(this + " is not loaded");
            }
            return batcher;
        }
    }

    /** Takes a reference if the version serves (READY or STALE); the caller must {@link #release} it exactly once. */
    public boolean tryAcquire() {
        synchronized (lock) {
            if (!serving(state)) {
                return false;
            }
            inFlight++;
            return true;
        }
    }

    public void release() {
        synchronized (lock) {
            if (inFlight <= 0) {
                throw new IllegalStateException("release without acquire on " + this);
            }
            inFlight--;
            if (inFlight == 0) {
                lock.notifyAll();
            }
        }
    }

    public int inFlight() {
        synchronized (lock) {
            return inFlight;
        }
    }

    /** Whether a version in {@code state} takes requests. */
    static boolean serving(VersionState state) {
        return state == VersionState.READY || state == VersionState.STALE;
    }

    void ready(LoadedBundle bundle, Batcher batcher, BundleFingerprint fingerprint) {
        synchronized (lock) {
            checkState(VersionState.LOADING);
            this.bundle = requireNonNull(bundle, "bundle is null");
            this.batcher = requireNonNull(batcher, "batcher is null");
            this.fingerprint = requireNonNull(fingerprint, "fingerprint is null");
            this.state = VersionState.READY;
            this.reason = "";
        }
    }

    /** The files as they were when the version loaded; only while loaded. */
    BundleFingerprint fingerprint() {
        synchronized (lock) {
            if (fingerprint == null) {
                throw new IllegalStateException(this + " is not loaded");
            }
            return fingerprint;
        }
    }

    /** READY to STALE (or a new reason while STALE): the files changed on disk; requests keep being served. */
    void markStale(String why) {
        synchronized (lock) {
            if (!serving(state)) {
                throw new IllegalStateException(this + " is " + state + ", expected READY or STALE");
            }
            state = VersionState.STALE;
            reason = requireNonNull(why, "why is null");
        }
    }

    /** STALE back to READY: the files match the loaded copy again. */
    void markFresh() {
        synchronized (lock) {
            checkState(VersionState.STALE);
            state = VersionState.READY;
            reason = "";
        }
    }

    void failed(String reason) {
        synchronized (lock) {
            this.state = VersionState.FAILED;
            this.reason = requireNonNull(reason, "reason is null");
        }
    }

    /** Stops new requests: from now on {@link #tryAcquire} fails. */
    void markDraining(String why) {
        synchronized (lock) {
            if (!serving(state)) {
                throw new IllegalStateException(this + " is " + state + ", expected READY or STALE");
            }
            state = VersionState.DRAINING;
            reason = requireNonNull(why, "why is null");
        }
    }

    /** Waits for in-flight requests; false if some were still running at the timeout. */
    boolean awaitIdle(Duration timeout) throws InterruptedException {
        synchronized (lock) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (inFlight > 0) {
                long remaining = deadline - System.nanoTime();
                if (remaining <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(lock, remaining);
            }
            return true;
        }
    }

    /** Frees the bundle's native resources. Safe to call twice. */
    void unload(String why, Duration batcherTimeout) {
        Batcher closingBatcher;
        LoadedBundle closingBundle;
        synchronized (lock) {
            closingBatcher = batcher;
            closingBundle = bundle;
            batcher = null;
            bundle = null;
            fingerprint = null;
            if (state != VersionState.FAILED) {
                state = VersionState.UNAVAILABLE;
                reason = why;
            }
        }
        if (closingBatcher != null) {
            closingBatcher.close(batcherTimeout);
        }
        if (closingBundle != null) {
            closingBundle.close();
        }
    }

    @GuardedBy("lock")
    private void checkState(VersionState expected) {
        if (state != expected) {
            throw new IllegalStateException(this + " is " + state + ", expected " + expected);
        }
    }

    @Override
    public String toString() {
        return model + " version " + version;
    }
}
