package dev.trellis.router.control;

import static java.util.Objects.requireNonNull;

import com.google.common.util.concurrent.ListenableFuture;
import dev.trellis.common.control.ModelControl;
import dev.trellis.experiments.ExperimentManager;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceFutureStub;
import dev.trellis.proto.inference.ModelRepositoryParameter;
import dev.trellis.proto.inference.RepositoryModelLoadRequest;
import dev.trellis.proto.inference.RepositoryModelLoadResponse;
import dev.trellis.router.routing.Fallbacks;
import dev.trellis.router.upstream.CatalogSnapshot;
import dev.trellis.router.upstream.ModelCatalog;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import jakarta.inject.Inject;
import java.io.Closeable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The router's control plane (DESIGN §11): the router, not the replicas, decides which versions
 * stay loaded. On start, after every definition change and after every catalog refresh it runs a
 * pass:
 *
 * <ol>
 *   <li>a model without a default version gets its highest READY version as default (stored, actor
 *       {@value #ACTOR}), so that a newly trained version takes no traffic until a definition or
 *       SetDefaultVersion names it;
 *   <li>it computes the {@link DesiredVersions} from the definitions;
 *   <li>for every replica and model it compares what the replica holds (its RepositoryIndex says
 *       {@value ModelControl#HELD_REASON}) with the desired versions that replica's repository has,
 *       and where they differ sends {@code RepositoryModelLoad} with the held set (Triton's "config"
 *       parameter, see {@link ModelControl}); a replica never unloads a held version, its own
 *       version policy only governs the others.
 * </ol>
 *
 * Every action is one INFO line (a failed one is WARN when the version is READY on no other
 * replica); a failed action is retried after {@link #RETRY_FAILED_NANOS} or when the desired set
 * changes. Reconciliation is idempotent, so several routers on one store agree. Thread-safe: passes
 * run one at a time on the control plane's own thread.
 */
public final class ControlPlane implements Closeable {
    public static final String ACTOR = "control-plane";

    private static final Logger log = LoggerFactory.getLogger(ControlPlane.class);
    private static final Duration HOLD_DEADLINE = Duration.ofMinutes(2);
    private static final long RETRY_FAILED_NANOS = TimeUnit.MINUTES.toNanos(1);

    private final ExperimentManager experiments;
    private final ModelCatalog catalog;
    private final Fallbacks fallbacks;
    private final ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "trellis-control-plane");
        t.setDaemon(true);
        return t;
    });
    private final AtomicBoolean passQueued = new AtomicBoolean();
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicLong preparations = new AtomicLong();
    private final Map<Long, Preparing> preparing = new ConcurrentHashMap<>();
    private volatile DesiredVersions desired = DesiredVersions.EMPTY;
    private volatile boolean closed;

    // control plane thread only
    private final Map<ReplicaModel, Attempt> attempts = new HashMap<>();
    private final Map<String, String> lastDefaults = new HashMap<>();

    @Inject
    public ControlPlane(ExperimentManager experiments, ModelCatalog catalog, Fallbacks fallbacks) {
        this.experiments = requireNonNull(experiments, "experiments is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.fallbacks = requireNonNull(fallbacks, "fallbacks is null");
    }

    /** Runs a pass after every catalog refresh and every definition change in the store from now on, and one now. */
    public void start() {
        if (started.compareAndSet(false, true)) {
            catalog.addListener(snapshot -> requestPass());
            // another router sharing the store started an experiment, a rollout or kept a version
            experiments.onStoreChange(this::requestPass);
            requestPass();
        }
    }

    /** Asks for a pass soon (e.g. after a definition changed); requests made while one is queued merge. */
    public void requestPass() {
        if (closed || !passQueued.compareAndSet(false, true)) {
            return;
        }
        try {
            executor.execute(() -> {
                passQueued.set(false);
                passQuietly();
            });
        } catch (RejectedExecutionException e) {
            passQueued.set(false);
        }
    }

    /** The desired state of the last pass. */
    public DesiredVersions desired() {
        return desired;
    }

    /**
     * Makes sure each of {@code versions} is READY on some replica before a definition that needs it
     * is stored: holds them (in addition to the desired state) on every replica whose repository has
     * them, waits for that pass (bounded by the caller's deadline), and reports each version that is
     * still READY nowhere, with the reason. The versions stay held until the returned preparation is
     * closed; by then the stored definition holds them, or nothing does.
     */
    public Preparation prepare(String model, Collection<String> versions) {
        requireNonNull(model, "model is null");
        Set<String> wanted = new TreeSet<>(CatalogSnapshot.VERSION_ORDER);
        versions.stream().filter(v -> !v.isEmpty()).forEach(wanted::add);
        long token = preparations.incrementAndGet();
        preparing.put(token, new Preparing(model, Set.copyOf(wanted)));
        boolean done = false;
        try {
            Future<?> pass = executor.submit(() -> {
                catalog.refresh();
                passQuietly();
            });
            await(pass);
            Map<String, String> problems = new TreeMap<>(CatalogSnapshot.VERSION_ORDER);
            CatalogSnapshot snapshot = catalog.snapshot();
            for (String version : wanted) {
                problem(snapshot, model, version).ifPresent(p -> problems.put(version, p));
            }
            done = true;
            return new Preparation(token, problems);
        } finally {
            if (!done) {
                preparing.remove(token);
            }
        }
    }

    private static void await(Future<?> pass) {
        long timeout = HOLD_DEADLINE.toNanos();
        Deadline deadline = Context.current().getDeadline();
        if (deadline != null) {
            timeout = Math.min(timeout, deadline.timeRemaining(TimeUnit.NANOSECONDS));
        }
        try {
            pass.get(Math.max(0, timeout), TimeUnit.NANOSECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // report what the catalog knows now; the pass keeps going in the background
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Why a version of a model takes no traffic, per the snapshot; empty when it is READY somewhere.
     * "not in any replica's repository" when no replica has it at all.
     */
    public static Optional<String> problem(CatalogSnapshot snapshot, String model, String version) {
        Optional<CatalogSnapshot.Model> known = snapshot.model(model);
        if (known.isEmpty()) {
            return Optional.of("no replica has model " + model);
        }
        Optional<CatalogSnapshot.Version> v = known.get().version(version);
        boolean unreachable = v.isPresent()
                && v.get().replicas().values().stream().anyMatch(r -> CatalogSnapshot.UNREACHABLE.equals(r.state()));
        if (v.isEmpty() || (!v.get().inAnyRepository() && !unreachable)) {
            return Optional.of("version " + version + " is not in any replica's repository (replicas: "
                    + String.join(
                            ", ",
                            snapshot.replicas().stream()
                                    .map(CatalogSnapshot.Replica::name)
                                    .toList())
                    + ")");
        }
        if (v.get().servable()) {
            return Optional.empty();
        }
        return Optional.of(v.get().whyNotReady());
    }

    private void passQuietly() {
        if (closed) {
            return;
        }
        // background work: not bound to any caller's deadline or cancellation
        Context previous = Context.ROOT.attach();
        try {
            pass();
        } catch (RuntimeException e) {
            log.warn("control plane pass failed: {}", e.toString());
        } finally {
            Context.ROOT.detach(previous);
        }
    }

    private void pass() {
        CatalogSnapshot snapshot = catalog.snapshot();
        adoptDefaults(snapshot);
        noteDefaultChanges();
        Set<String> models = new TreeSet<>(snapshot.models().keySet());
        models.addAll(experiments.routedModels());
        experiments.keptVersions().forEach(k -> models.add(k.model()));
        Map<String, Set<String>> extra = new HashMap<>();
        for (Preparing p : preparing.values()) {
            extra.computeIfAbsent(p.model(), m -> new TreeSet<>()).addAll(p.versions());
            models.add(p.model());
        }
        DesiredVersions next =
                DesiredVersions.compute(models, experiments::routingState, experiments.keptVersions(), extra);
        desired = next;
        if (reconcile(snapshot, next)) {
            catalog.refresh(); // routing sees what loaded right away; the next pass finds everything in place
        }
    }

    private void adoptDefaults(CatalogSnapshot snapshot) {
        boolean refreshed = false;
        for (CatalogSnapshot.Model model : snapshot.models().values()) {
            if (model.highestReady().isEmpty()
                    || experiments.defaultVersion(model.name()).isPresent()) {
                continue;
            }
            if (!refreshed) {
                experiments.refresh(); // another router may have set one since our last read
                refreshed = true;
                if (experiments.defaultVersion(model.name()).isPresent()) {
                    continue;
                }
            }
            String version = model.highestReady().get().version();
            experiments.setDefaultVersion(model.name(), version, ACTOR);
            log.info(
                    "model {} had no default version: version {}, its highest READY one, is now its default, so a new"
                            + " version takes no traffic until a definition or SetDefaultVersion names it",
                    model.name(),
                    version);
        }
    }

    private void noteDefaultChanges() {
        for (String model : experiments.routedModels()) {
            String current = experiments.defaultVersion(model).orElse("");
            String before = lastDefaults.put(model, current);
            if (before != null && !before.equals(current)) {
                fallbacks.defaultChanged(model, before);
            }
        }
    }

    /** Sends the held sets that differ from what replicas report; true when it acted. */
    private boolean reconcile(CatalogSnapshot snapshot, DesiredVersions desiredVersions) {
        long now = System.nanoTime();
        List<Action> actions = new ArrayList<>();
        for (CatalogSnapshot.Replica replica : snapshot.replicas()) {
            if (!replica.reachable()) {
                continue;
            }
            for (CatalogSnapshot.Model model : snapshot.models().values()) {
                Holding holding = holding(replica.name(), model);
                if (holding.available().isEmpty() && holding.held().isEmpty()) {
                    continue;
                }
                SortedSet<Integer> want = new TreeSet<>();
                for (String version : desiredVersions.versions(model.name())) {
                    number(version).filter(holding.available()::contains).ifPresent(want::add);
                }
                ReplicaModel key = new ReplicaModel(replica.name(), model.name());
                Attempt last = attempts.get(key);
                SortedSet<Integer> expected = new TreeSet<>(want);
                if (last != null && last.sent().equals(want)) {
                    // versions we asked for that failed to load are held but not serving: nothing more to send
                    expected.removeAll(holding.failed());
                }
                if (holding.held().equals(expected)) {
                    continue;
                }
                if (last != null
                        && last.sent().equals(want)
                        && last.failure() != null
                        && now - last.at() < RETRY_FAILED_NANOS) {
                    continue;
                }
                actions.add(new Action(replica.name(), model.name(), want, holding.held()));
            }
        }
        if (actions.isEmpty()) {
            return false;
        }
        Map<Action, ListenableFuture<RepositoryModelLoadResponse>> calls = new HashMap<>();
        for (Action action : actions) {
            Optional<GRPCInferenceServiceFutureStub> stub = catalog.replicaStub(action.replica(), HOLD_DEADLINE);
            stub.ifPresent(s -> calls.put(
                    action,
                    s.repositoryModelLoad(RepositoryModelLoadRequest.newBuilder()
                            .setModelName(action.model())
                            .putParameters(
                                    ModelControl.CONFIG_PARAMETER,
                                    ModelRepositoryParameter.newBuilder()
                                            .setStringParam(ModelControl.heldVersionsConfig(action.want()))
                                            .build())
                            .build())));
        }
        for (Map.Entry<Action, ListenableFuture<RepositoryModelLoadResponse>> call : calls.entrySet()) {
            Action action = call.getKey();
            ReplicaModel key = new ReplicaModel(action.replica(), action.model());
            String failure = outcome(call.getValue());
            Attempt previous = attempts.put(key, new Attempt(action.want(), System.nanoTime(), failure));
            String holders = desiredVersions.describe(action.model(), action.want());
            if (failure == null) {
                log.info(
                        "replica {}: model {} now holds versions {} (was {}): {}",
                        action.replica(),
                        action.model(),
                        action.want(),
                        action.held(),
                        holders.isEmpty() ? "nothing needs them" : holders);
            } else if (previous == null || !failure.equals(previous.failure())) {
                boolean servedElsewhere = action.want().stream()
                        .allMatch(v -> snapshot.model(action.model())
                                .flatMap(m -> m.servable(String.valueOf(v)))
                                .isPresent());
                String line = "replica {}: model {} cannot hold versions {} ({}): {}";
                if (servedElsewhere) {
                    log.info(line, action.replica(), action.model(), action.want(), holders, failure);
                } else {
                    log.warn(line, action.replica(), action.model(), action.want(), holders, failure);
                }
            }
        }
        return true;
    }

    private static String outcome(ListenableFuture<RepositoryModelLoadResponse> call) {
        try {
            call.get(HOLD_DEADLINE.toMillis() + 5_000, TimeUnit.MILLISECONDS);
            return null;
        } catch (ExecutionException e) {
            Status status = Status.fromThrowable(e.getCause());
            String hint =
                    status.getCode() == Status.Code.UNAUTHENTICATED || status.getCode() == Status.Code.PERMISSION_DENIED
                            ? " (the router presents the token of --upstream-token-file; it must be the model-server's"
                                    + " --admin-token-file token)"
                            : "";
            return status.getCode() + ": " + status.getDescription() + hint;
        } catch (TimeoutException e) {
            call.cancel(true);
            return "no answer within " + HOLD_DEADLINE;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /** What one replica has of one model, from its index. */
    private static Holding holding(String replica, CatalogSnapshot.Model model) {
        SortedSet<Integer> available = new TreeSet<>();
        SortedSet<Integer> held = new TreeSet<>();
        SortedSet<Integer> failed = new TreeSet<>();
        for (CatalogSnapshot.Version version : model.versions().values()) {
            CatalogSnapshot.ReplicaState state = version.replicas().get(replica);
            Optional<Integer> number = number(version.version());
            if (state == null || !state.inRepository() || number.isEmpty()) {
                continue;
            }
            available.add(number.get());
            if (ModelControl.isHeld(state.reason())) {
                held.add(number.get());
            }
            if ("FAILED".equals(state.state())) {
                failed.add(number.get());
            }
        }
        return new Holding(available, held, failed);
    }

    private static Optional<Integer> number(String version) {
        if (version.isEmpty() || version.length() > 9 || !version.chars().allMatch(Character::isDigit)) {
            return Optional.empty();
        }
        return Optional.of(Integer.parseInt(version));
    }

    @Override
    public void close() {
        closed = true;
        executor.shutdownNow();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Versions held for a definition being validated; {@link #close} hands them back to the desired state. */
    public final class Preparation implements AutoCloseable {
        private final long token;
        private final Map<String, String> problems;

        private Preparation(long token, Map<String, String> problems) {
            this.token = token;
            this.problems = java.util.Collections.unmodifiableMap(problems);
        }

        /** Version to why it is READY on no replica; empty when all are ready somewhere. */
        public Map<String, String> problems() {
            return problems;
        }

        @Override
        public void close() {
            if (preparing.remove(token) != null) {
                requestPass();
            }
        }
    }

    private record Preparing(String model, Set<String> versions) {}

    private record ReplicaModel(String replica, String model) {}

    private record Attempt(SortedSet<Integer> sent, long at, String failure) {}

    private record Action(String replica, String model, SortedSet<Integer> want, SortedSet<Integer> held) {}

    private record Holding(SortedSet<Integer> available, SortedSet<Integer> held, SortedSet<Integer> failed) {}
}
