package dev.trellis.router.routing;

import static java.util.Objects.requireNonNull;

import dev.trellis.experiments.assignment.RoutingDecision;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.LongCounter;
import jakarta.inject.Inject;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bookkeeping of FALLBACK: each model's previous default version (the first choice to fall back
 * to), one WARN line when a version starts falling back (or falls back to another version) and one
 * INFO line when it is READY again, and the row counter {@code trellis_router_fallback_rows_total}
 * by model, wanted version and served version. Thread-safe.
 */
public final class Fallbacks {
    private static final Logger log = LoggerFactory.getLogger(Fallbacks.class);
    private static final AttributeKey<String> MODEL = AttributeKey.stringKey("model");
    private static final AttributeKey<String> WANTED = AttributeKey.stringKey("wanted_version");
    private static final AttributeKey<String> VERSION = AttributeKey.stringKey("version");

    private final LongCounter rows;
    private final Map<String, String> previousDefaults = new ConcurrentHashMap<>();
    // model + wanted version -> version served instead, while falling back
    private final Map<Key, String> active = new ConcurrentHashMap<>();
    private final Map<Key, Attributes> attributes = new ConcurrentHashMap<>();

    @Inject
    public Fallbacks(OpenTelemetry openTelemetry) {
        this.rows = requireNonNull(openTelemetry, "openTelemetry is null")
                .getMeter("dev.trellis.router")
                .counterBuilder("trellis.router.fallback.rows")
                .setDescription(
                        "Rows served by a fallback version because the version they resolved to was READY nowhere")
                .setUnit("{row}")
                .build();
    }

    /** Records that a model's default moved away from {@code previous} (kept in memory only). */
    public void defaultChanged(String model, String previous) {
        if (!previous.isEmpty()) {
            previousDefaults.put(model, previous);
        }
    }

    /** The default before the current one, if this router saw it change. */
    public Optional<String> previousDefault(String model) {
        return Optional.ofNullable(previousDefaults.get(model));
    }

    /** The version that serves {@code wanted}'s rows instead, while it falls back. */
    public Optional<String> fallingBackTo(String model, String wanted) {
        return Optional.ofNullable(active.get(new Key(model, wanted)));
    }

    /** @param countRow whether a row is served this way (ExplainAssignment only asks) */
    void fellBack(String model, RoutingDecision decision, String served, String why, boolean countRow) {
        Key key = new Key(model, decision.version());
        String before = active.put(key, served);
        if (!served.equals(before)) {
            log.warn(
                    "model {}: version {} ({}) is READY on no replica ({}); serving version {} instead (FALLBACK)",
                    model,
                    decision.version(),
                    decision.reason(),
                    why,
                    served);
        }
        if (!countRow) {
            return;
        }
        rows.add(
                1,
                attributes.computeIfAbsent(
                        new Key(model, decision.version() + "\u0000" + served),
                        k -> Attributes.of(MODEL, model, WANTED, decision.version(), VERSION, served)));
    }

    void servedAsDecided(String model, RoutingDecision decision) {
        if (active.isEmpty()) {
            return;
        }
        String before = active.remove(new Key(model, decision.version()));
        if (before != null) {
            log.info(
                    "model {}: version {} is READY again; its requests no longer fall back to version {}",
                    model,
                    decision.version(),
                    before);
        }
    }

    private record Key(String model, String version) {}
}
