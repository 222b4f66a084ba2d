package dev.trellis.common.sched;

import static java.util.Objects.requireNonNull;

import io.grpc.netty.shaded.io.netty.buffer.ByteBuf;
import io.grpc.netty.shaded.io.netty.buffer.ByteBufAllocator;
import io.grpc.netty.shaded.io.netty.buffer.CompositeByteBuf;
import io.grpc.netty.shaded.io.netty.buffer.PooledByteBufAllocator;
import io.grpc.netty.shaded.io.netty.buffer.UnpooledByteBufAllocator;

/**
 * The Netty buffer allocator of the servers' and the router's connections: threads at normal
 * priority allocate from a pool, {@link BulkThreads} get buffers of their own from the operating
 * system, freed when released. This keeps bulk threads out of the pool's arenas, whose locks
 * every allocation and every free takes: a bulk thread that held an arena lock when the kernel
 * preempted it (it runs at nice 19, so it can wait a long time for the CPU) kept the transport
 * thread that frees the buffers of the interactive calls' connections waiting for as long. A
 * thread profile of the overload benchmark showed such waits of up to 32 ms on the transport
 * threads. A bulk buffer costs a {@code malloc} and a {@code free} instead; bulk messages are large,
 * so that is little per byte. Thread-safe.
 */
public final class BulkAwareAllocator implements ByteBufAllocator {
    /** One for the JVM: pools are per process, and the pool's thread caches are per thread. */
    public static final BulkAwareAllocator DEFAULT =
            new BulkAwareAllocator(PooledByteBufAllocator.DEFAULT, new UnpooledByteBufAllocator(true, false, true));

    private final ByteBufAllocator interactive;
    private final ByteBufAllocator bulk;

    BulkAwareAllocator(ByteBufAllocator interactive, ByteBufAllocator bulk) {
        this.interactive = requireNonNull(interactive, "interactive is null");
        this.bulk = requireNonNull(bulk, "bulk is null");
    }

    /** The allocator for the calling thread. */
    ByteBufAllocator current() {
        return BulkThreads.isCurrentThreadBulk() ? bulk : interactive;
    }

    @Override
    public ByteBuf buffer() {
        return current().buffer();
    }

    @Override
    public ByteBuf buffer(int initialCapacity) {
        return current().buffer(initialCapacity);
    }

    @Override
    public ByteBuf buffer(int initialCapacity, int maxCapacity) {
        return current().buffer(initialCapacity, maxCapacity);
    }

    @Override
    public ByteBuf ioBuffer() {
        return current().ioBuffer();
    }

    @Override
    public ByteBuf ioBuffer(int initialCapacity) {
        return current().ioBuffer(initialCapacity);
    }

    @Override
    public ByteBuf ioBuffer(int initialCapacity, int maxCapacity) {
        return current().ioBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public ByteBuf heapBuffer() {
        return current().heapBuffer();
    }

    @Override
    public ByteBuf heapBuffer(int initialCapacity) {
        return current().heapBuffer(initialCapacity);
    }

    @Override
    public ByteBuf heapBuffer(int initialCapacity, int maxCapacity) {
        return current().heapBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public ByteBuf directBuffer() {
        return current().directBuffer();
    }

    @Override
    public ByteBuf directBuffer(int initialCapacity) {
        return current().directBuffer(initialCapacity);
    }

    @Override
    public ByteBuf directBuffer(int initialCapacity, int maxCapacity) {
        return current().directBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public CompositeByteBuf compositeBuffer() {
        return current().compositeBuffer();
    }

    @Override
    public CompositeByteBuf compositeBuffer(int maxNumComponents) {
        return current().compositeBuffer(maxNumComponents);
    }

    @Override
    public CompositeByteBuf compositeHeapBuffer() {
        return current().compositeHeapBuffer();
    }

    @Override
    public CompositeByteBuf compositeHeapBuffer(int maxNumComponents) {
        return current().compositeHeapBuffer(maxNumComponents);
    }

    @Override
    public CompositeByteBuf compositeDirectBuffer() {
        return current().compositeDirectBuffer();
    }

    @Override
    public CompositeByteBuf compositeDirectBuffer(int maxNumComponents) {
        return current().compositeDirectBuffer(maxNumComponents);
    }

    @Override
    public boolean isDirectBufferPooled() {
        // what decides whether a transport thread copies a heap buffer into a pooled direct one
        return interactive.isDirectBufferPooled();
    }

    @Override
    public int calculateNewCapacity(int minNewCapacity, int maxCapacity) {
        return current().calculateNewCapacity(minNewCapacity, maxCapacity);
    }
}
