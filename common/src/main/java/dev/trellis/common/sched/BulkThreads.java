package dev.trellis.common.sched;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Threads for bulk work (large batches, explanations) that the operating system runs only with
 * the CPU interactive threads leave over. Separate queues and threads are not enough on a small
 * machine: when bulk work keeps every core busy, the kernel shares the cores evenly among the
 * runnable threads, and each hop of an interactive call (transport, handler, scoring) waits its
 * turn behind them. Java thread priorities are ignored on Linux, so each bulk thread lowers its
 * own scheduling priority at start to {@link #NICE} (Linux {@code setpriority} on the thread, via
 * {@code renice} on its thread id): under contention the kernel then gives a nice-0 thread 1024/15
 * times the CPU of a bulk thread, and an idle machine still gives bulk work every free cycle.
 * Lowering one's own priority needs no privileges. Where that is not possible (another OS, no
 * {@code renice}), the threads run at normal priority and one INFO line says so. Not SCHED_IDLE:
 * an idle-class thread gets next to no CPU while any normal thread is runnable, so one holding a
 * lock or due at a safepoint stalls every thread (a 2 s stall of every single row; README, overload).
 */
public final class BulkThreads {
    /** The nice value of bulk threads: the lowest priority of the normal scheduling class. */
    public static final int NICE = 19;

    private static final Logger log = LoggerFactory.getLogger(BulkThreads.class);
    private static final AtomicBoolean WARNED = new AtomicBoolean();
    private static final ThreadLocal<Boolean> BULK = ThreadLocal.withInitial(() -> false);

    private BulkThreads() {}

    /** A factory of daemon threads named {@code prefix-N} that lower their priority first thing. */
    public static ThreadFactory factory(String prefix) {
        requireNonNull(prefix, "prefix is null");
        AtomicInteger numbers = new AtomicInteger();
        return runnable -> {
            requireNonNull(runnable, "runnable is null");
            Thread thread = new Thread(
                    () -> {
                        lowerCurrentThread();
                        runnable.run();
                    },
                    prefix + "-" + numbers.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }

    /**
     * Lowers the calling thread's scheduling priority to {@link #NICE} and marks it as a bulk thread
     * ({@link #isCurrentThreadBulk}). Returns whether the priority went down; never throws.
     */
    public static boolean lowerCurrentThread() {
        BULK.set(true);
        try {
            // /proc/thread-self names the calling thread: "<pid>/task/<tid>"
            Path self = Files.readSymbolicLink(Path.of("/proc/thread-self"));
            String tid = self.getFileName().toString();
            Process renice = new ProcessBuilder("renice", "-n", Integer.toString(NICE), "-p", tid)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            if (!renice.waitFor(5, TimeUnit.SECONDS)) {
                renice.destroyForcibly();
                return unavailable("renice did not finish");
            }
            return renice.exitValue() == 0 || unavailable("renice exited with " + renice.exitValue());
        } catch (IOException | UnsupportedOperationException e) {
            return unavailable(e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Whether the calling thread has called {@link #lowerCurrentThread} (all threads of {@link
     * #factory} have), even where its priority could not be lowered.
     */
    public static boolean isCurrentThreadBulk() {
        return BULK.get();
    }

    /** The calling thread's nice value (Linux: field 19 of /proc/thread-self/stat). */
    public static int currentNice() {
        try {
            String stat = Files.readString(Path.of("/proc/thread-self/stat"));
            // the fields after the parenthesized command name, which may contain spaces
            return Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[16]);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static boolean unavailable(String why) {
        if (WARNED.compareAndSet(false, true)) {
            log.info("bulk threads run at normal priority (cannot lower thread priority here: {})", why);
        }
        return false;
    }
}
