package dev.trellis.common.sched;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Metadata;
import java.util.Set;
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
    void close_twice_isSafe() {
        BulkCalls calls = new BulkCalls("bulk-call-test", Set.of(), 1);
        calls.close();
        calls.close();
        assertThat(calls.isBulk("svc/Single", new Metadata())).isFalse();
    }
}
