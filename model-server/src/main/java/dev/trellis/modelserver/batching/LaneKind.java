package dev.trellis.modelserver.batching;

import java.util.Locale;

/** The three queues of a model version; each has its own bound and its own scoring threads. */
public enum LaneKind {
    /** At most max-batch-size rows, no explanation, not low priority: interactive single rows. */
    INTERACTIVE,
    /** Larger requests and low-priority ones. */
    BULK,
    /** Requests with explanations (TreeSHAP), the most expensive per row. */
    EXPLAIN;

    /** The lowercase name used as the {@code lane} metric attribute. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
