package dev.trellis.common.sched;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.netty.shaded.io.netty.buffer.ByteBuf;
import io.grpc.netty.shaded.io.netty.buffer.PooledByteBufAllocator;
import io.grpc.netty.shaded.io.netty.buffer.UnpooledByteBufAllocator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class BulkAwareAllocatorTest {
    // a pool of its own, so that its memory figures count only this test's buffers
    private final PooledByteBufAllocator pool = new PooledByteBufAllocator(true);
    private final BulkAwareAllocator allocator =
            new BulkAwareAllocator(pool, new UnpooledByteBufAllocator(true, false, true));

    @Test
    void normalThread_allocatesFromThePool() {
        ByteBuf buffer = allocator.directBuffer(64 * 1024);
        try {
            assertThat(buffer.isDirect()).isTrue();
            assertThat(pool.metric().usedDirectMemory()).isPositive();
        } finally {
            buffer.release();
        }
    }

    @Test
    void bulkThread_allocatesOutsideThePool() throws Exception {
        CompletableFuture<Long> poolMemory = new CompletableFuture<>();
        BulkThreads.factory("bulk-alloc-test")
                .newThread(() -> {
                    ByteBuf buffer = allocator.directBuffer(64 * 1024);
                    try {
                        buffer.writeLong(42);
                        poolMemory.complete(pool.metric().usedDirectMemory());
                    } catch (RuntimeException e) {
                        poolMemory.completeExceptionally(e);
                    } finally {
                        buffer.release();
                    }
                })
                .start();
        assertThat(poolMemory.get(30, TimeUnit.SECONDS)).isZero();
    }

    @Test
    void directBuffersCountAsPooled_soTransportThreadsCopyHeapBuffersIntoThePool() {
        assertThat(allocator.isDirectBufferPooled()).isTrue();
    }
}
