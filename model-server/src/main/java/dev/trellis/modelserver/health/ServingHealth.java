package dev.trellis.modelserver.health;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.trellis.modelserver.repository.ModelRepository;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import io.grpc.BindableService;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import jakarta.inject.Inject;

/**
 * {@code grpc.health.v1} status of the server ("") and of the inference service: NOT_SERVING until
 * every expected model has a READY version, and for good once shutdown begins. Thread-safe.
 */
public final class ServingHealth {
    public static final String INFERENCE_SERVICE = GRPCInferenceServiceGrpc.SERVICE_NAME;

    private final HealthStatusManager manager;
    private final ModelRepository repository;
    private final Object lock = new Object();

    @GuardedBy("lock")
    private boolean serving;

    @GuardedBy("lock")
    private boolean terminal;

    @Inject
    public ServingHealth(HealthStatusManager manager, ModelRepository repository) {
        this.manager = requireNonNull(manager, "manager is null");
        this.repository = requireNonNull(repository, "repository is null");
        set(ServingStatus.NOT_SERVING);
    }

    /** Follows the repository from now on. */
    public void start() {
        repository.addListener(this::update);
        update();
    }

    public BindableService service() {
        return manager.getHealthService();
    }

    public boolean isServing() {
        synchronized (lock) {
            return serving && !terminal;
        }
    }

    /** NOT_SERVING from now on, whatever the models do. Safe to call twice. */
    public void shuttingDown() {
        synchronized (lock) {
            terminal = true;
            serving = false;
            manager.enterTerminalState();
        }
    }

    private void update() {
        synchronized (lock) {
            if (terminal) {
                return;
            }
            boolean ready = repository.expectedModelsReady();
            if (ready != serving) {
                serving = ready;
                set(ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
            }
        }
    }

    private void set(ServingStatus status) {
        manager.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, status);
        manager.setStatus(INFERENCE_SERVICE, status);
    }
}
