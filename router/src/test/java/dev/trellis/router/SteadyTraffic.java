package dev.trellis.router;

import static org.awaitility.Awaitility.await;

import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongFunction;

/**
 * A steady stream of Score calls through a cluster's router from a few client threads, every request
 * counted: each answer is kept in order of arrival, each failure too. Request n is built by the given
 * function (e.g. unit id "unit-n" so that the units hit every experiment arm).
 */
final class SteadyTraffic implements AutoCloseable {
    final ConcurrentLinkedQueue<ScoreResponse> answers = new ConcurrentLinkedQueue<>();
    final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    private final AtomicLong sent = new AtomicLong();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final List<Thread> clients = new ArrayList<>();

    SteadyTraffic(Cluster cluster, int threads, LongFunction<ScoreRequest> request) {
        for (int c = 0; c < threads; c++) {
            Thread t = new Thread(
                    () -> {
                        while (!stop.get()) {
                            long n = sent.getAndIncrement();
                            try {
                                answers.add(cluster.scoring()
                                        .withDeadlineAfter(10, TimeUnit.SECONDS)
                                        .score(request.apply(n)));
                            } catch (RuntimeException e) {
                                failures.add(e);
                            }
                        }
                    },
                    "steady-traffic-" + c);
            t.setDaemon(true);
            t.start();
            clients.add(t);
        }
    }

    /** Waits until {@code count} more requests were answered (or failed) than now. */
    void awaitMore(int count) {
        long target = answers.size() + failures.size() + count;
        await("%d more requests".formatted(count))
                .atMost(Duration.ofSeconds(120))
                .pollInterval(Duration.ofMillis(20))
                .until(() -> answers.size() + failures.size() >= target);
    }

    /** A position in the answers, to take those received between two positions later. */
    int mark() {
        return answers.size();
    }

    /** The answers received from {@code from} to {@code to} (marks), in order of arrival. */
    List<ScoreResponse> answers(int from, int to) {
        return List.copyOf(answers).subList(from, to);
    }

    /** The answers received since {@code from} (a mark). */
    List<ScoreResponse> answersSince(int from) {
        List<ScoreResponse> all = List.copyOf(answers);
        return all.subList(from, all.size());
    }

    /** Stops the clients and waits for their last calls. */
    @Override
    public void close() throws InterruptedException {
        stop.set(true);
        for (Thread t : clients) {
            t.join(TimeUnit.SECONDS.toMillis(30));
        }
    }
}
