package dev.trellis.common.sched;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class BulkThreadsTest {
    @Test
    void factory_threadRunsAtTheBulkNiceValue() throws Exception {
        CompletableFuture<Integer> nice = new CompletableFuture<>();
        Thread thread = BulkThreads.factory("bulk-test").newThread(() -> nice.complete(BulkThreads.currentNice()));
        assertThat(thread.getName()).isEqualTo("bulk-test-1");
        assertThat(thread.isDaemon()).isTrue();
        thread.start();
        assertThat(nice.get(30, TimeUnit.SECONDS)).isEqualTo(BulkThreads.NICE);
    }

    @Test
    void factory_threadIsMarkedBulk() throws Exception {
        CompletableFuture<Boolean> bulk = new CompletableFuture<>();
        BulkThreads.factory("bulk-test")
                .newThread(() -> bulk.complete(BulkThreads.isCurrentThreadBulk()))
                .start();
        assertThat(bulk.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(BulkThreads.isCurrentThreadBulk()).isFalse();
    }

    @Test
    void factory_otherThreadsKeepTheirPriority() throws Exception {
        CompletableFuture<Integer> nice = new CompletableFuture<>();
        BulkThreads.factory("bulk-test").newThread(() -> {}).start();
        Thread plain = new Thread(() -> nice.complete(BulkThreads.currentNice()));
        plain.start();
        assertThat(nice.get(30, TimeUnit.SECONDS)).isLessThan(BulkThreads.NICE);
    }
}
