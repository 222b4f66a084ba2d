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
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.util.ArrayDeque;
import java.util.List;
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

    /**
     * Streams with the client's flow control: rows are sent only while the call is ready, and the
     * next store page is read only when the rows of the last one are sent. A slow client therefore
     * holds the router to one page plus gRPC's own buffers (about 32 KiB on the server, the
     * client's HTTP/2 window in flight), not the whole export; a cancelled call reads no further.
     */
    @Override
    public void exportPayloads(ExportPayloadsRequest request, StreamObserver<PayloadRow> observer) {
        PayloadReads.ExportCursor cursor;
        try {
            cursor = payloads.openExport(request);
        } catch (RuntimeException e) {
            observer.onError(StatusMapper.toStatusException(e));
            return;
        }
        ServerCallStreamObserver<PayloadRow> call = (ServerCallStreamObserver<PayloadRow>) observer;
        ExportStream stream = new ExportStream(call, cursor);
        call.setOnCancelHandler(() -> {});
        // gRPC runs this call's callbacks one at a time (including this method), so the stream's
        // state needs no lock; the first onReady comes after this method returns
        call.setOnReadyHandler(stream::drain);
    }

    /** One export in progress: the rows of the current page not yet sent. */
    private static final class ExportStream {
        private final ServerCallStreamObserver<PayloadRow> call;
        private final PayloadReads.ExportCursor cursor;
        private final ArrayDeque<PayloadRow> pending = new ArrayDeque<>();
        private boolean finished;

        ExportStream(ServerCallStreamObserver<PayloadRow> call, PayloadReads.ExportCursor cursor) {
            this.call = call;
            this.cursor = cursor;
        }

        void drain() {
            try {
                while (!finished && !call.isCancelled() && call.isReady()) {
                    if (pending.isEmpty()) {
                        List<PayloadRow> page = cursor.nextPage();
                        if (page.isEmpty()) {
                            finished = true;
                            call.onCompleted();
                            return;
                        }
                        pending.addAll(page);
                    }
                    call.onNext(pending.poll());
                }
            } catch (RuntimeException e) {
                finished = true;
                if (!call.isCancelled()) {
                    call.onError(StatusMapper.toStatusException(e));
                }
            }
        }
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
