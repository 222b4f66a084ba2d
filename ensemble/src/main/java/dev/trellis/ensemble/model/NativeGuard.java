package dev.trellis.ensemble.model;

import static java.util.Objects.requireNonNull;

import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Guards a model's native handles. Calls share a read lock and fail once the model is closed;
 * {@link #close} takes the write lock, so it waits for calls in flight and frees the handles
 * exactly once. A library failure becomes a {@link ModelException} naming the library and the
 * operation. Thread-safe.
 */
final class NativeGuard {
    /** A call into a native library, which reports failures with its own checked exception. */
    @FunctionalInterface
    interface NativeCall<T> {
        T call() throws Exception;
    }

    /** Frees native handles. */
    @FunctionalInterface
    interface NativeFree {
        void free() throws Exception;
    }

    private final String library;
    private final ReadWriteLock lock = new ReentrantReadWriteLock();
    private volatile boolean closed;

    NativeGuard(String library) {
        this.library = requireNonNull(library, "library is null");
    }

    /** Runs {@code call} on the open model; {@code operation} names it in errors ("prediction"). */
    <T> T call(String operation, NativeCall<T> call) {
        lock.readLock().lock();
        try {
            checkOpen();
            return call.call();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new ModelException(library + " " + operation + " failed: " + e.getMessage(), e);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** For pure-Java paths that touch no native handle but must not serve a closed model. */
    void checkOpen() {
        if (closed) {
            throw new IllegalStateException(library + " model is closed");
        }
    }

    /** Frees the handles once, after the calls in flight; later calls are no-ops. */
    void close(NativeFree free) {
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            free.free();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new ModelException("cannot free " + library + " model: " + e.getMessage(), e);
        } finally {
            lock.writeLock().unlock();
        }
    }
}
