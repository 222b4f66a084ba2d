package dev.trellis.modelserver.repository;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.control.ModelControl;
import dev.trellis.common.sched.BulkThreads;
import dev.trellis.ensemble.api.InvalidBundleException;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.modelserver.batching.Batcher;
import dev.trellis.modelserver.batching.BatcherFactory;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.config.VersionPolicy;
import dev.trellis.modelserver.errors.ErrorCode;
import dev.trellis.modelserver.errors.ModelServerException;
import dev.trellis.modelserver.telemetry.ServerMetrics;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The model repository on local disk: {@code <repository>/<model>/<version>/}. One thread scans it
 * every poll interval (and on explicit load/unload), applies each model's version policy, loads and
 * warms up new versions, and drains and unloads versions that left the policy or the disk. Folders
 * whose names are not integers are ignored (the trainer writes to a temporary folder and renames it).
 *
 * <p>Versions held by the control plane ({@link #hold}) are loaded whatever the policy says and
 * never unloaded by it: the policy only governs the versions nobody holds.
 *
 * <p>Every poll re-verifies the files of each loaded version against the sha256 taken when it
 * loaded ({@link BundleFingerprint}). A version whose files changed or disappeared is STALE: it keeps
 * serving from memory while held, is never reloaded from the changed files, and is drained and
 * unloaded once nobody holds it. A file operation alone therefore never takes a held version down.
 *
 * <p>Requests see an immutable snapshot of the serving (READY or STALE) versions, swapped atomically
 * after each change: a new version becomes visible only once READY, and a version leaves the snapshot
 * before it starts draining. A version that fails to load is FAILED with its reason and is not retried
 * by polling (only by an explicit load or hold); the versions already served stay. Thread-safe.
 *
 * <p>Reading a bundle and warming it up (seconds of CPU: parsing the trees, the checks against the
 * native libraries, the warm-up rows) run on a thread of their own at the priority of bulk work
 * ({@link BulkThreads}), so a version loading while the server is busy takes only the CPU that
 * requests leave over. The batcher is created on the repository thread, which runs at normal
 * priority: its worker threads inherit the priority of the thread that starts them.
 */
public final class ModelRepository implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ModelRepository.class);
    private static final Duration MANAGEMENT_TIMEOUT = Duration.ofMinutes(10);
    private static final long FULL_CHECK_INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);
    private static final String FROM_MEMORY = "; serving the copy loaded in memory";

    private final ModelServerConfig config;
    private final BundleReader reader;
    private final BatcherFactory batchers;
    private final ServerMetrics metrics;
    private final ScheduledExecutorService executor;
    private final ExecutorService loader = Executors.newSingleThreadExecutor(BulkThreads.factory("model-loader"));

    // all versions the repository knows, in any state; mutated only on the executor thread
    private final Map<String, ConcurrentSkipListMap<Integer, ModelVersion>> versions = new ConcurrentHashMap<>();
    private final Set<String> unloadedModels = ConcurrentHashMap.newKeySet();
    // versions the control plane holds, per model; written only on the executor thread
    private final Map<String, Set<Integer>> holds = new ConcurrentHashMap<>();
    // the last scan's versions on disk and the policy's selection among them, per model (for the index)
    private final Map<String, SortedSet<Integer>> lastOnDisk = new ConcurrentHashMap<>();
    private final Map<String, SortedSet<Integer>> lastSelected = new ConcurrentHashMap<>();
    private final AtomicReference<Map<String, NavigableMap<Integer, ModelVersion>>> serving =
            new AtomicReference<>(Map.of());
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile Set<String> expectedModels = Set.of();
    // executor thread only
    private long lastFullCheckNanos = System.nanoTime();

    @Inject
    public ModelRepository(
            ModelServerConfig config, BundleReader reader, BatcherFactory batchers, ServerMetrics metrics) {
        this.config = requireNonNull(config, "config is null");
        this.reader = requireNonNull(reader, "reader is null");
        this.batchers = requireNonNull(batchers, "batchers is null");
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.executor = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "model-repository");
            thread.setDaemon(true);
            return thread;
        });
    }

    /** Scans the repository now and then every poll interval; loading happens in the background. */
    public void start() {
        if (!started.compareAndSet(false, true)) {
            return;
        }
        expectedModels = config.models().isEmpty() ? Set.copyOf(scanModels()) : Set.copyOf(config.models());
        if (expectedModels.isEmpty()) {
            log.warn("no models found in repository {}", config.repository());
        }
        metrics.observeLoadedVersions(() -> {
            Map<String, Integer> counts = new TreeMap<>();
            serving.get().forEach((model, ready) -> counts.put(model, ready.size()));
            return counts;
        });
        metrics.observeStaleVersions(() -> {
            Map<String, Integer> counts = new TreeMap<>();
            versions.forEach((model, known) -> counts.put(model, (int) known.values().stream()
                    .filter(v -> v.state() == VersionState.STALE)
                    .count()));
            return counts;
        });
        executor.scheduleWithFixedDelay(this::pollAll, 0, config.pollInterval().toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Called after every change of the served versions. */
    public void addListener(Runnable listener) {
        listeners.add(requireNonNull(listener, "listener is null"));
    }

    /** Models whose readiness makes the server ready: the configured ones, or those found at startup. */
    public Set<String> expectedModels() {
        return expectedModels;
    }

    public boolean expectedModelsReady() {
        Map<String, NavigableMap<Integer, ModelVersion>> snapshot = serving.get();
        for (String model : expectedModels) {
            NavigableMap<Integer, ModelVersion> ready = snapshot.get(model);
            if (ready == null || ready.isEmpty()) {
                return false;
            }
        }
        return true;
    }

    /** Serving (READY or STALE) versions of a model, ascending. */
    public List<Integer> readyVersions(String model) {
        NavigableMap<Integer, ModelVersion> ready = serving.get().get(model);
        return ready == null ? List.of() : List.copyOf(ready.keySet());
    }

    /**
     * Every version the repository has on disk or loaded, sorted by model and version. A READY
     * version's reason says who keeps it loaded (the control plane, the version policy); a version
     * on disk that is not loaded is UNAVAILABLE with the reason.
     */
    public List<VersionStatus> index() {
        List<VersionStatus> index = new ArrayList<>();
        Set<String> models = new TreeSet<>(versions.keySet());
        models.addAll(lastOnDisk.keySet());
        for (String model : models) {
            Map<Integer, ModelVersion> known = versions.getOrDefault(model, new ConcurrentSkipListMap<>());
            SortedSet<Integer> all = new TreeSet<>(known.keySet());
            all.addAll(lastOnDisk.getOrDefault(model, new TreeSet<>()));
            Set<Integer> held = holds.getOrDefault(model, Set.of());
            Set<Integer> selected = lastSelected.getOrDefault(model, new TreeSet<>());
            for (int number : all) {
                ModelVersion version = known.get(number);
                if (version == null) {
                    index.add(new VersionStatus(
                            model,
                            number,
                            VersionState.UNAVAILABLE,
                            unloadedModels.contains(model)
                                    ? "model unloaded on request"
                                    : "not loaded: outside version policy " + config.versionPolicy(model)));
                    continue;
                }
                VersionStatus status = version.status();
                if (status.state() == VersionState.READY) {
                    List<String> why = new ArrayList<>();
                    if (held.contains(number)) {
                        why.add(ModelControl.HELD_REASON);
                    }
                    if (selected.contains(number)) {
                        why.add("version policy " + config.versionPolicy(model));
                    }
                    status = new VersionStatus(model, number, VersionState.READY, String.join("; ", why));
                } else if (status.state() == VersionState.STALE && held.contains(number)) {
                    status = new VersionStatus(
                            model, number, VersionState.STALE, status.reason() + "; " + ModelControl.HELD_REASON);
                }
                index.add(status);
            }
        }
        return index;
    }

    /**
     * The version a request without a version ({@code version} empty) or with one should use, without
     * taking a reference.
     *
     * @throws ModelServerException MODEL_NOT_FOUND, VERSION_NOT_FOUND or VERSION_NOT_READY
     */
    public ModelVersion resolve(String model, String version) {
        requireNonNull(model, "model is null");
        requireNonNull(version, "version is null");
        NavigableMap<Integer, ModelVersion> ready = serving.get().getOrDefault(model, Collections.emptyNavigableMap());
        if (version.isEmpty()) {
            // the highest READY version; a STALE one only when no version is READY
            for (ModelVersion candidate : ready.descendingMap().values()) {
                if (candidate.state() == VersionState.READY) {
                    return candidate;
                }
            }
            if (!ready.isEmpty()) {
                return ready.lastEntry().getValue();
            }
            throw notReady(model, "model '" + model + "' has no READY version" + describeStates(model));
        }
        Optional<Integer> number = parseVersion(version);
        ModelVersion served = number.map(ready::get).orElse(null);
        if (served != null) {
            return served;
        }
        Map<Integer, ModelVersion> known = versions.get(model);
        if (known == null) {
            throw modelNotFound(model);
        }
        ModelVersion candidate = number.map(known::get).orElse(null);
        if (candidate == null) {
            throw new ModelServerException(
                    ErrorCode.VERSION_NOT_FOUND,
                    "model '" + model + "' has no version '" + version + "'; available versions: "
                            + describe(readyVersions(model)),
                    List.of(),
                    Map.of("model", model, "version", version, "available_versions", joined(readyVersions(model))));
        }
        VersionStatus status = candidate.status();
        throw notReady(
                model,
                "model '" + model + "' version " + version + " is " + status.state()
                        + (status.reason().isEmpty() ? "" : " (" + status.reason() + ")")
                        + "; ready versions: " + describe(readyVersions(model)));
    }

    /**
     * Like {@link #resolve} but takes a reference the caller must release. A request without a version
     * that races with a version swap simply takes the newest READY version.
     */
    public ModelVersion acquire(String model, String version) {
        for (int attempt = 0; attempt < 100; attempt++) {
            ModelVersion resolved = resolve(model, version);
            if (resolved.tryAcquire()) {
                return resolved;
            }
            // it began draining between the snapshot read and the acquire; the next snapshot no longer has it
            Thread.onSpinWait();
        }
        throw notReady(model, "model '" + model + "' is being reloaded; retry");
    }

    /**
     * Loads a model now: re-enables it if it was unloaded, retries its FAILED versions and applies
     * its version policy. Returns once done.
     *
     * @throws ModelServerException MODEL_NOT_FOUND for a model without a folder, LOAD_FAILED if no version is READY after
     */
    public void load(String model) {
        requireNonNull(model, "model is null");
        if (!isServable(model) || !Files.isDirectory(modelDirectory(model))) {
            throw modelNotFound(model);
        }
        runOnRepositoryThread(() -> {
            unloadedModels.remove(model);
            ConcurrentSkipListMap<Integer, ModelVersion> known = versions.get(model);
            if (known != null) {
                known.values().removeIf(version -> version.state() == VersionState.FAILED);
            }
            sync(model, false);
        });
        if (readyVersions(model).isEmpty()) {
            throw new ModelServerException(
                    ErrorCode.LOAD_FAILED,
                    "model '" + model + "' has no loadable version" + describeStates(model),
                    List.of(),
                    Map.of("model", model));
        }
    }

    /**
     * Makes {@code held} the model's held set (replacing the previous one; empty releases every hold):
     * loads each held version that is not loaded (retrying a FAILED one), and from then on neither
     * the version policy nor polling unloads it. Versions that leave the held set fall back under the
     * version policy. Re-enables a model unloaded on request. Returns once done.
     *
     * @throws ModelServerException MODEL_NOT_FOUND for a model this server does not have,
     *     VERSION_NOT_FOUND when held versions are not in the repository, LOAD_FAILED when one
     *     failed to load; the hold is recorded either way and the other versions are unaffected
     */
    public void hold(String model, Set<Integer> held) {
        requireNonNull(model, "model is null");
        Set<Integer> wanted = Set.copyOf(requireNonNull(held, "held is null"));
        boolean present =
                isServable(model) && (Files.isDirectory(modelDirectory(model)) || versions.containsKey(model));
        if (!present) {
            if (wanted.isEmpty() && !holds.containsKey(model)) {
                return; // releasing a model this server does not have: nothing to do
            }
            throw modelNotFound(model);
        }
        runOnRepositoryThread(() -> {
            Set<Integer> previous = holds.getOrDefault(model, Set.of());
            unloadedModels.remove(model);
            if (wanted.isEmpty()) {
                holds.remove(model);
            } else {
                holds.put(model, wanted);
            }
            ConcurrentSkipListMap<Integer, ModelVersion> known = versions.get(model);
            if (known != null) {
                known.values()
                        .removeIf(version ->
                                wanted.contains(version.version()) && version.state() == VersionState.FAILED);
            }
            if (!previous.equals(wanted)) {
                log.info(
                        "model {}: the control plane holds versions {} (was {})",
                        model,
                        new TreeSet<>(wanted),
                        new TreeSet<>(previous));
            }
            sync(model, false);
        });
        List<String> problems = new ArrayList<>();
        boolean allMissing = true;
        Map<Integer, ModelVersion> known = versions.getOrDefault(model, new ConcurrentSkipListMap<>());
        for (int number : new TreeSet<>(wanted)) {
            ModelVersion version = known.get(number);
            if (version == null) {
                problems.add("version " + number + " is not in the repository");
                continue;
            }
            VersionStatus status = version.status();
            if (!ModelVersion.serving(status.state())) {
                allMissing = false;
                problems.add("version " + number + " is " + status.state()
                        + (status.reason().isEmpty() ? "" : ": " + status.reason()));
            }
        }
        if (!problems.isEmpty()) {
            throw new ModelServerException(
                    allMissing ? ErrorCode.VERSION_NOT_FOUND : ErrorCode.LOAD_FAILED,
                    "model '" + model + "': " + String.join("; ", problems),
                    List.of(),
                    Map.of(
                            "model",
                            model,
                            "held_versions",
                            joined(List.copyOf(new TreeSet<>(wanted))),
                            "available_versions",
                            joined(readyVersions(model))));
        }
    }

    /** Versions the control plane holds for a model, ascending. */
    public List<Integer> heldVersions(String model) {
        return List.copyOf(new TreeSet<>(holds.getOrDefault(model, Set.of())));
    }

    /**
     * Drains and unloads every version of a model and drops its holds; polling leaves it unloaded
     * until {@link #load} or {@link #hold}.
     */
    public void unload(String model) {
        requireNonNull(model, "model is null");
        if (!versions.containsKey(model)) {
            throw modelNotFound(model);
        }
        runOnRepositoryThread(() -> {
            unloadedModels.add(model);
            holds.remove(model);
            sync(model, false);
        });
    }

    /** Scans the repository now (tests and explicit refreshes); returns once done. */
    public void poll() {
        runOnRepositoryThread(this::pollAll);
    }

    private void runOnRepositoryThread(Runnable task) {
        if (closed.get()) {
            throw new ModelServerException(ErrorCode.SHUTTING_DOWN, "server is shutting down");
        }
        Future<?> done = executor.submit(task);
        try {
            done.get(MANAGEMENT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ModelServerException(ErrorCode.SHUTTING_DOWN, "interrupted");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IllegalStateException(e.getCause());
        } catch (TimeoutException e) {
            throw new ModelServerException(
                    ErrorCode.VERSION_NOT_READY, "repository operation still running after " + MANAGEMENT_TIMEOUT);
        }
    }

    private void pollAll() {
        if (closed.get()) {
            return;
        }
        Set<String> models = new LinkedHashSet<>(config.models().isEmpty() ? scanModels() : config.models());
        models.addAll(versions.keySet());
        boolean fullCheck = System.nanoTime() - lastFullCheckNanos >= FULL_CHECK_INTERVAL_NANOS;
        if (fullCheck) {
            lastFullCheckNanos = System.nanoTime();
        }
        for (String model : models) {
            try {
                sync(model, fullCheck);
            } catch (RuntimeException e) {
                log.error("model {}: repository scan failed", model, e);
            }
        }
    }

    /**
     * Brings one model's versions in line with the disk, its holds and its policy: re-verifies the
     * files of loaded versions, loads what is held or selected, unloads what is neither (and STALE
     * versions nobody holds). Repository thread only.
     */
    private void sync(String model, boolean fullCheck) {
        SortedSet<Integer> onDisk = scanVersions(model);
        ConcurrentSkipListMap<Integer, ModelVersion> known =
                versions.computeIfAbsent(model, ignored -> new ConcurrentSkipListMap<>());
        known.values()
                .removeIf(version -> !onDisk.contains(version.version())
                        && (version.state() == VersionState.FAILED || version.state() == VersionState.UNAVAILABLE));
        verifyLoaded(known, fullCheck);
        VersionPolicy policy = config.versionPolicy(model);
        boolean enabled = !unloadedModels.contains(model) && !closed.get();
        Set<Integer> held = enabled ? holds.getOrDefault(model, Set.of()) : Set.of();
        if (enabled) {
            SortedSet<Integer> toLoad = new TreeSet<>(policy.select(loadable(onDisk, known)));
            toLoad.addAll(held);
            for (int version : new TreeSet<>(toLoad).descendingSet()) {
                ModelVersion current = known.get(version);
                if ((current == null || current.state() == VersionState.UNAVAILABLE) && onDisk.contains(version)) {
                    loadVersion(model, version, known);
                }
            }
        }
        // after loading: a new version that failed leaves the policy's choice to the next one
        SortedSet<Integer> selected = enabled ? policy.select(loadable(onDisk, known)) : new TreeSet<>();
        lastOnDisk.put(model, onDisk);
        lastSelected.put(model, selected);
        for (ModelVersion version : List.copyOf(known.values())) {
            VersionState state = version.state();
            boolean isHeld = held.contains(version.version());
            if (state == VersionState.STALE && !isHeld) {
                String stale = version.status().reason().replace(FROM_MEMORY, "");
                unloadVersion(version, "STALE and not held: " + stale);
                // never reloaded from the changed files by polling; an explicit load or hold retries
                version.failed("files changed on disk while it was loaded (" + stale
                        + "); not reloaded from them until an explicit load");
            } else if (state == VersionState.READY && !isHeld && !selected.contains(version.version())) {
                String why = !enabled
                        ? "model unloaded on request"
                        : !onDisk.contains(version.version())
                                ? "removed from the repository"
                                : "outside version policy " + policy + " and not held";
                unloadVersion(version, why);
            }
        }
        if (known.isEmpty() && onDisk.isEmpty() && held.isEmpty()) {
            versions.remove(model);
            lastOnDisk.remove(model);
            lastSelected.remove(model);
        }
    }

    /** READY to STALE when a loaded version's files changed on disk, STALE to READY when they match again. */
    private void verifyLoaded(Map<Integer, ModelVersion> known, boolean fullCheck) {
        boolean changed = false;
        for (ModelVersion version : known.values()) {
            VersionStatus status = version.status();
            if (!ModelVersion.serving(status.state())) {
                continue;
            }
            Optional<String> change = version.fingerprint().check(fullCheck);
            if (change.isPresent()) {
                String reason = change.get() + FROM_MEMORY;
                if (!reason.equals(status.reason())) {
                    version.markStale(reason);
                    changed = true;
                    log.warn("model {} version {} is STALE: {}", version.model(), version.version(), reason);
                }
            } else if (status.state() == VersionState.STALE) {
                version.markFresh();
                changed = true;
                log.info(
                        "model {} version {} is READY again: its files match the loaded copy",
                        version.model(),
                        version.version());
            }
        }
        if (changed) {
            publish();
        }
    }

    private static SortedSet<Integer> loadable(SortedSet<Integer> onDisk, Map<Integer, ModelVersion> known) {
        SortedSet<Integer> candidates = new TreeSet<>(onDisk);
        known.values().stream()
                .filter(version -> version.state() == VersionState.FAILED)
                .forEach(version -> candidates.remove(version.version()));
        return candidates;
    }

    private void loadVersion(String model, int version, Map<Integer, ModelVersion> known) {
        Path directory = modelDirectory(model).resolve(String.valueOf(version));
        ModelVersion loading = new ModelVersion(model, version, directory);
        known.put(version, loading);
        log.info("model {} version {} loading from {}", model, version, directory);
        long start = System.nanoTime();
        LoadedBundle bundle = null;
        try {
            // taken before reading, so a change while loading shows up as STALE on the next poll
            BundleFingerprint fingerprint;
            try {
                fingerprint = BundleFingerprint.read(directory);
            } catch (IOException e) {
                fail(loading, null, "cannot read the version folder: " + e.getMessage());
                return;
            }
            bundle = onLoaderThread(() -> reader.load(directory));
            if (bundle.version() != version || !bundle.model().equals(model)) {
                throw new InvalidBundleException(
                        directory,
                        "bundle.json names " + bundle.model() + " version " + bundle.version() + " but the folder is "
                                + model + "/" + version);
            }
            LoadedBundle loaded = bundle;
            onLoaderThread(() -> {
                Warmup.run(loaded.ensemble());
                return null;
            });
            Batcher batcher = batchers.create(model, version, bundle.ensemble());
            loading.ready(bundle, batcher, fingerprint);
        } catch (InvalidBundleException e) {
            fail(loading, bundle, e.getMessage());
            return;
        } catch (RuntimeException | LinkageError e) {
            fail(loading, bundle, "cannot load or warm up: " + e);
            return;
        }
        publish();
        log.info(
                "model {} version {} ready in {} ms",
                model,
                version,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
    }

    /** Runs one step of a load on the low-priority loader thread and waits for it; failures rethrown as they are. */
    private <T> T onLoaderThread(Callable<T> step) {
        Future<T> future = loader.submit(step);
        try {
            return future.get();
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while loading", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException runtime) {
                throw runtime;
            }
            if (cause instanceof Error error) {
                throw error;
            }
            throw new IllegalStateException(cause);
        }
    }

    private void fail(ModelVersion version, LoadedBundle bundle, String reason) {
        version.failed(reason);
        if (bundle != null) {
            try {
                bundle.close();
            } catch (RuntimeException e) {
                log.warn("{}: closing a failed bundle: {}", version, e.toString());
            }
        }
        log.warn("model {} version {} failed: {}", version.model(), version.version(), reason);
        publish();
    }

    private void unloadVersion(ModelVersion version, String why) {
        // no new request takes it from here on; then wait for the ones in flight
        version.markDraining(why);
        publish();
        log.info(
                "model {} version {} draining ({}, {} in flight)",
                version.model(),
                version.version(),
                why,
                version.inFlight());
        boolean drained;
        try {
            drained = version.awaitIdle(config.drainTimeout());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            drained = false;
        }
        int left = version.inFlight();
        version.unload(why, config.drainTimeout());
        publish();
        if (drained) {
            log.info("model {} version {} unloaded ({})", version.model(), version.version(), why);
        } else {
            log.warn(
                    "model {} version {} unloaded after the drain timeout of {} with {} requests in flight ({})",
                    version.model(),
                    version.version(),
                    config.drainTimeout(),
                    left,
                    why);
        }
    }

    /** Rebuilds the snapshot of READY versions and tells listeners. */
    private void publish() {
        Map<String, NavigableMap<Integer, ModelVersion>> snapshot = new HashMap<>();
        versions.forEach((model, known) -> {
            NavigableMap<Integer, ModelVersion> ready = new TreeMap<>();
            known.forEach((number, version) -> {
                if (ModelVersion.serving(version.state())) {
                    ready.put(number, version);
                }
            });
            if (!ready.isEmpty()) {
                snapshot.put(model, Collections.unmodifiableNavigableMap(ready));
            }
        });
        serving.set(Map.copyOf(snapshot));
        for (Runnable listener : listeners) {
            try {
                listener.run();
            } catch (RuntimeException e) {
                log.error("repository listener failed", e);
            }
        }
    }

    private boolean isServable(String model) {
        return config.models().isEmpty() || config.models().contains(model);
    }

    private Path modelDirectory(String model) {
        return config.repository().resolve(model);
    }

    private List<String> scanModels() {
        List<String> models = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(config.repository(), Files::isDirectory)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (!name.startsWith(".") && isServable(name)) {
                    models.add(name);
                }
            }
        } catch (NoSuchFileException e) {
            log.warn("model repository {} does not exist", config.repository());
        } catch (IOException e) {
            log.error("cannot list model repository {}: {}", config.repository(), e.toString());
        }
        Collections.sort(models);
        return models;
    }

    private SortedSet<Integer> scanVersions(String model) {
        SortedSet<Integer> found = new TreeSet<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(modelDirectory(model), Files::isDirectory)) {
            for (Path entry : entries) {
                parseVersion(entry.getFileName().toString()).ifPresent(found::add);
            }
        } catch (NoSuchFileException e) {
            // the model folder was removed: every version goes
        } catch (IOException e) {
            log.error("cannot list model folder {}: {}", modelDirectory(model), e.toString());
            // keep serving what is loaded rather than unloading on a transient error
            ConcurrentSkipListMap<Integer, ModelVersion> known = versions.get(model);
            if (known != null) {
                found.addAll(known.keySet());
            }
        }
        return found;
    }

    private static Optional<Integer> parseVersion(String text) {
        if (text.isEmpty() || text.length() > 9 || !text.chars().allMatch(Character::isDigit)) {
            return Optional.empty();
        }
        return Optional.of(Integer.parseInt(text));
    }

    private ModelServerException modelNotFound(String model) {
        List<String> available = new ArrayList<>(new TreeSet<>(versions.keySet()));
        return new ModelServerException(
                ErrorCode.MODEL_NOT_FOUND,
                "model '" + model + "' not found; available models: "
                        + (available.isEmpty() ? "(none)" : String.join(", ", available)),
                List.of(),
                Map.of("model", model, "available_models", String.join(",", available)));
    }

    private ModelServerException notReady(String model, String message) {
        if (!versions.containsKey(model)) {
            return modelNotFound(model);
        }
        return new ModelServerException(
                ErrorCode.VERSION_NOT_READY,
                message,
                List.of(),
                Map.of("model", model, "available_versions", joined(readyVersions(model))));
    }

    private String describeStates(String model) {
        Map<Integer, ModelVersion> known = versions.get(model);
        if (known == null || known.isEmpty()) {
            return "";
        }
        return " ("
                + known.values().stream()
                        .map(ModelVersion::status)
                        .map(status -> "version " + status.version() + " " + status.state()
                                + (status.reason().isEmpty() ? "" : ": " + status.reason()))
                        .collect(Collectors.joining("; "))
                + ")";
    }

    private static String describe(List<Integer> versions) {
        return versions.isEmpty() ? "(none)" : joined(versions).replace(",", ", ");
    }

    private static String joined(List<Integer> versions) {
        return versions.stream().map(String::valueOf).collect(Collectors.joining(","));
    }

    /** Stops polling, then drains and unloads every version. Safe to call twice. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        executor.shutdown();
        try {
            if (!executor.awaitTermination(config.drainTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
        loader.shutdownNow();
        for (Map<Integer, ModelVersion> known : versions.values()) {
            for (ModelVersion version : known.values()) {
                if (ModelVersion.serving(version.state())) {
                    unloadVersion(version, "server shutting down");
                }
            }
        }
        metrics.close();
    }
}
