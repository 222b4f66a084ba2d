package dev.trellis.router.monitoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.GetDriftRequest;
import dev.trellis.api.v1.GetDriftResponse;
import dev.trellis.api.v1.MonitoringGrpc;
import dev.trellis.router.errors.StatusMapper;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.util.function.Supplier;

/** The public Monitoring service: drift, live performance and payload export. Thread-safe. */
public final class MonitoringService extends MonitoringGrpc.MonitoringImplBase {
    private final DriftService drift;

    @Inject
    public MonitoringService(DriftService drift) {
        this.drift = requireNonNull(drift, "drift is null");
    }

    @Override
    public void getDrift(GetDriftRequest request, StreamObserver<GetDriftResponse> observer) {
        unary(observer, () -> drift.drift(request));
    }

    private static <T> void unary(StreamObserver<T> observer, Supplier<T> call) {
        T response;
        try {
            response = call.get();
        } catch (RuntimeException e) {
            observer.onError(StatusMapper.toStatusException(e));
            return;
        }
        observer.onNext(response);
        observer.onCompleted();
    }
}
