package dev.trellis.common.sched;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import java.io.InputStream;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class BulkCallsTest {
    @Test
    void isBulk_bulkMethodOrMarkedCall() {
        try (BulkCalls calls = new BulkCalls("bulk-call-test", Set.of("svc/Batch"), 1)) {
            Metadata marked = new Metadata();
            marked.put(BulkCalls.LANE, BulkCalls.BULK);
            Metadata other = new Metadata();
            other.put(BulkCalls.LANE, "interactive");

            assertThat(calls.isBulk("svc/Batch", new Metadata())).isTrue();
            assertThat(calls.isBulk("svc/Single", marked)).isTrue();
            assertThat(calls.isBulk("svc/Single", new Metadata())).isFalse();
            assertThat(calls.isBulk("svc/Single", other)).isFalse();
        }
    }

    @Test
    void getExecutor_bulkOnBulkThreads_inlineOnTheCallersThread_otherDefault() throws Exception {
        try (BulkCalls calls = new BulkCalls("bulk-call-test", Set.of("svc/Batch"), Set.of("svc/Single"), 1)) {
            Metadata marked = new Metadata();
            marked.put(BulkCalls.LANE, BulkCalls.BULK);

            assertThat(threadOf(calls.getExecutor(call("svc/Batch"), new Metadata())))
                    .startsWith("bulk-call-test");
            assertThat(threadOf(calls.getExecutor(call("svc/Single"), marked)))
                    .as("an inline method marked bulk")
                    .startsWith("bulk-call-test");
            assertThat(threadOf(calls.getExecutor(call("svc/Single"), new Metadata())))
                    .isEqualTo(Thread.currentThread().getName());
            assertThat(calls.getExecutor(call("svc/Other"), new Metadata()))
                    .as("gRPC's default executor")
                    .isNull();
        }
    }

    private static String threadOf(Executor executor) throws Exception {
        CompletableFuture<String> thread = new CompletableFuture<>();
        executor.execute(() -> thread.complete(Thread.currentThread().getName()));
        return thread.get(10, TimeUnit.SECONDS);
    }

    private static ServerCall<Void, Void> call(String fullMethodName) {
        MethodDescriptor.Marshaller<Void> none = new MethodDescriptor.Marshaller<>() {
            @Override
            public InputStream stream(Void value) {
                return InputStream.nullInputStream();
            }

            @Override
            public Void parse(InputStream stream) {
                return null;
            }
        };
        MethodDescriptor<Void, Void> method = MethodDescriptor.<Void, Void>newBuilder(none, none)
                .setType(MethodDescriptor.MethodType.UNARY)
                .setFullMethodName(fullMethodName)
                .build();
        return new NoopServerCall<>(method);
    }

    /** Only its method descriptor is read. */
    private static final class NoopServerCall<ReqT, RespT> extends ServerCall<ReqT, RespT> {
        private final MethodDescriptor<ReqT, RespT> method;

        NoopServerCall(MethodDescriptor<ReqT, RespT> method) {
            this.method = method;
        }

        @Override
        public MethodDescriptor<ReqT, RespT> getMethodDescriptor() {
            return method;
        }

        @Override
        public void request(int numMessages) {}

        @Override
        public void sendHeaders(Metadata headers) {}

        @Override
        public void sendMessage(RespT message) {}

        @Override
        public void close(io.grpc.Status status, Metadata trailers) {}

        @Override
        public boolean isCancelled() {
            return false;
        }
    }

    @Test
    void close_twice_isSafe() {
        BulkCalls calls = new BulkCalls("bulk-call-test", Set.of(), 1);
        calls.close();
        calls.close();
        assertThat(calls.isBulk("svc/Single", new Metadata())).isFalse();
    }
}
