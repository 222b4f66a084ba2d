package dev.trellis.router.monitoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.ExportPayloadsRequest;
import dev.trellis.api.v1.GetDriftRequest;
import dev.trellis.api.v1.GetDriftResponse;
import dev.trellis.api.v1.GetPerformanceRequest;
import dev.trellis.api.v1.GetPerformanceResponse;
import dev.trellis.api.v1.MonitoringGrpc;
import dev.trellis.api.v1.PayloadRow;
import dev.trellis.router.errors.StatusMapper;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.util.function.Supplier;

/** The public Monitoring service: drift, live performance and payload export. Thread-safe. */
public final class MonitoringService extends MonitoringGrpc.MonitoringImplBase {
    private final DriftService drift;
    private final PayloadReads payloads;

    @Inject
    public MonitoringService(DriftService drift, PayloadReads payloads) {
        this.drift = requireNonNull(drift, "drift is null");
        this.payloads = requireNonNull(payloads, "payloads is null");
    }

    @Override
    public void getPerformance(GetPerformanceRequest request, StreamObserver<GetPerformanceResponse> observer) {
        unary(observer, () -> payloads.performance(request));
    }

    @Override
    public void exportPayloads(ExportPayloadsRequest request, StreamObserver<PayloadRow> observer) {
        try {
            payloads.export(request, observer::onNext);
        } catch (RuntimeException e) {
            observer.onError(StatusMapper.toStatusException(e));
            return;
        }
        observer.onCompleted();
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
