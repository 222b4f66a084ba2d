package dev.trellis.experiments.rollout;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import dev.trellis.api.v1.GuardrailCheck;
import dev.trellis.api.v1.Guardrails;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutEvent;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.FieldViolation;
import dev.trellis.experiments.definition.ValidationException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The canary state machine of DESIGN §7, pure: every method returns a new {@link Rollout} and the
 * time comes from the injected clock. Thread-safe.
 *
 * <pre>
 *   start ──► PROGRESSING ──(hold elapsed, enough requests, guardrails hold)──► next step
 *                 │  ▲                     └─(next step is the last, 100 %)──► PROMOTED
 *           pause │  │ resume (hold restarts)
 *                 ▼  │
 *               PAUSED          promote (from PROGRESSING or PAUSED) ──► PROMOTED
 *                               abort, or a guardrail breach        ──► ABORTED (weight 0)
 * </pre>
 *
 * <p>Guardrails, candidate against stable over the step's window: error-rate increase
 * (candidate − stable, absolute), p99 latency ratio (candidate / stable, skipped when stable has
 * no p99) and PSI of the score histograms (10 bins, each share floored at {@value #PSI_EPSILON}
 * so empty bins do not make it infinite; skipped when either side has no scores).
 *
 * <p>The error-rate guardrail is also checked before the hold elapses, once the minimum number of
 * candidate requests is in: failing requests harm users right now, and the minimum count already
 * protects against aborting on a handful of unlucky requests. Latency and PSI wait for the full
 * window: a p99 or a score distribution over a partial window is too noisy to act on.
 */
public final class RolloutStateMachine {
    public static final List<Double> DEFAULT_STEPS = List.of(5.0, 25.0, 50.0, 100.0);
    public static final Duration DEFAULT_STEP_INTERVAL = Duration.ofMinutes(5);
    public static final long DEFAULT_MIN_CANDIDATE_REQUESTS = 100;
    public static final double DEFAULT_MAX_ERROR_RATE_INCREASE = 0.01;
    public static final double DEFAULT_MAX_P99_LATENCY_RATIO = 1.5;
    public static final double DEFAULT_MAX_SCORE_PSI = 0.2;
    static final double PSI_EPSILON = 1e-4;

    private final Clock clock;

    public RolloutStateMachine(Clock clock) {
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** The spec with every unset setting given its default. */
    public static Rollout withDefaults(Rollout spec) {
        Rollout.Builder b = spec.toBuilder();
        if (b.getStepsCount() == 0) {
            b.addAllSteps(DEFAULT_STEPS);
        }
        if (!spec.hasStepInterval()) {
            b.setStepInterval(Durations.fromMillis(DEFAULT_STEP_INTERVAL.toMillis()));
        }
        if (spec.getMinCandidateRequests() == 0) {
            b.setMinCandidateRequests(DEFAULT_MIN_CANDIDATE_REQUESTS);
        }
        Guardrails.Builder g = spec.getGuardrails().toBuilder();
        if (!g.hasMaxErrorRateIncrease()) {
            g.setMaxErrorRateIncrease(DEFAULT_MAX_ERROR_RATE_INCREASE);
        }
        if (!g.hasMaxP99LatencyRatio()) {
            g.setMaxP99LatencyRatio(DEFAULT_MAX_P99_LATENCY_RATIO);
        }
        if (!g.hasMaxScorePsi()) {
            g.setMaxScorePsi(DEFAULT_MAX_SCORE_PSI);
        }
        return b.setGuardrails(g).build();
    }

    /** A new rollout at its first step, PROGRESSING. Output-only fields of the spec are replaced. */
    public Rollout start(Rollout spec) {
        Rollout r = withDefaults(spec);
        double weight = r.getSteps(0);
        return r.toBuilder()
                .setState(RolloutState.PROGRESSING)
                .setCurrentStep(0)
                .setCurrentWeight(weight)
                .setStepStarted(now())
                .setReason("")
                .clearHistory()
                .clearLastCheck()
                .setRevision(spec.getRevision())
                .addHistory(event("STARTED", weight, "from " + r.getStableVersion() + " to " + r.getCandidateVersion()))
                .build();
    }

    public TickResult tick(Rollout rollout, VersionWindow candidate, VersionWindow stable) {
        requireNonNull(rollout, "rollout is null");
        requireNonNull(candidate, "candidate is null");
        requireNonNull(stable, "stable is null");
        if (rollout.getState() != RolloutState.PROGRESSING) {
            return new TickResult(rollout, false);
        }
        if (candidate.requests() < rollout.getMinCandidateRequests()) {
            return new TickResult(rollout, false);
        }
        long heldMillis = Timestamps.toMillis(now()) - Timestamps.toMillis(rollout.getStepStarted());
        boolean holdElapsed = heldMillis >= Durations.toMillis(rollout.getStepInterval());
        Check check = check(rollout.getGuardrails(), candidate, stable);

        if (!holdElapsed) {
            if (check.errorBreach != null) {
                return new TickResult(
                        abortWith(
                                rollout,
                                check.proto(false, check.errorBreach),
                                "guardrail breached before the hold elapsed: " + check.errorBreach),
                        true);
            }
            return new TickResult(rollout, false);
        }
        String breach = check.firstBreach();
        if (breach != null) {
            return new TickResult(
                    abortWith(rollout, check.proto(false, breach), "guardrail breached: " + breach), true);
        }
        GuardrailCheck passed = check.proto(true, "");
        int next = rollout.getCurrentStep() + 1;
        if (next >= rollout.getStepsCount() - 1) {
            Rollout promoted =
                    promoted(rollout.toBuilder().setLastCheck(passed).build(), "every step passed its guardrails");
            return new TickResult(promoted, true);
        }
        double weight = rollout.getSteps(next);
        Rollout advanced = rollout.toBuilder()
                .setCurrentStep(next)
                .setCurrentWeight(weight)
                .setStepStarted(now())
                .setLastCheck(passed)
                .addHistory(event(
                        "ADVANCED",
                        weight,
                        String.format(
                                Locale.ROOT, "step %d of %d passed its guardrails", next, rollout.getStepsCount())))
                .build();
        return new TickResult(advanced, true);
    }

    public Rollout pause(Rollout rollout, String reason) {
        requireState(rollout, "pause", RolloutState.PROGRESSING);
        return rollout.toBuilder()
                .setState(RolloutState.PAUSED)
                .setReason(reason)
                .addHistory(event("PAUSED", rollout.getCurrentWeight(), reason))
                .build();
    }

    /** Back to PROGRESSING; the step's hold starts again, since the metrics windows restart too. */
    public Rollout resume(Rollout rollout, String reason) {
        requireState(rollout, "resume", RolloutState.PAUSED);
        return rollout.toBuilder()
                .setState(RolloutState.PROGRESSING)
                .setReason(reason)
                .setStepStarted(now())
                .addHistory(event("RESUMED", rollout.getCurrentWeight(), reason))
                .build();
    }

    public Rollout promote(Rollout rollout, String reason) {
        requireState(rollout, "promote", RolloutState.PROGRESSING, RolloutState.PAUSED);
        return promoted(rollout, reason.isEmpty() ? "promoted by an operator" : reason);
    }

    public Rollout abort(Rollout rollout, String reason) {
        requireState(rollout, "abort", RolloutState.PROGRESSING, RolloutState.PAUSED);
        return abortWith(rollout, null, reason.isEmpty() ? "aborted by an operator" : reason);
    }

    private Rollout promoted(Rollout rollout, String reason) {
        return rollout.toBuilder()
                .setState(RolloutState.PROMOTED)
                .setCurrentStep(rollout.getStepsCount() - 1)
                .setCurrentWeight(100)
                .setStepStarted(now())
                .setReason(reason)
                .addHistory(event("PROMOTED", 100, reason))
                .build();
    }

    private Rollout abortWith(Rollout rollout, GuardrailCheck check, String reason) {
        Rollout.Builder b = rollout.toBuilder()
                .setState(RolloutState.ABORTED)
                .setCurrentWeight(0)
                .setReason(reason)
                .addHistory(event("ABORTED", 0, reason));
        if (check != null) {
            b.setLastCheck(check);
        }
        return b.build();
    }

    private static void requireState(Rollout rollout, String action, RolloutState... allowed) {
        for (RolloutState s : allowed) {
            if (rollout.getState() == s) {
                return;
            }
        }
        throw new ValidationException(
                ErrorCode.ILLEGAL_TRANSITION,
                List.of(new FieldViolation(
                        "rollout.state",
                        "cannot " + action + " the rollout of model '" + rollout.getModel() + "': it is "
                                + rollout.getState())));
    }

    private RolloutEvent event(String type, double weight, String detail) {
        return RolloutEvent.newBuilder()
                .setTime(now())
                .setType(type)
                .setWeight(weight)
                .setDetail(detail)
                .build();
    }

    private com.google.protobuf.Timestamp now() {
        return Timestamps.fromMillis(clock.millis());
    }

    /** Population stability index of candidate scores against stable scores, ε-floored shares. */
    public static double psi(long[] candidate, long[] stable) {
        long nc = 0;
        long ns = 0;
        for (int i = 0; i < candidate.length; i++) {
            nc += candidate[i];
            ns += stable[i];
        }
        if (nc == 0 || ns == 0) {
            return 0;
        }
        double psi = 0;
        for (int i = 0; i < candidate.length; i++) {
            double p = Math.max((double) candidate[i] / nc, PSI_EPSILON);
            double q = Math.max((double) stable[i] / ns, PSI_EPSILON);
            psi += (p - q) * Math.log(p / q);
        }
        return psi;
    }

    private Check check(Guardrails g, VersionWindow candidate, VersionWindow stable) {
        Check c = new Check();
        c.candidate = candidate;
        c.stable = stable;
        double increase = candidate.errorRate() - stable.errorRate();
        if (increase > g.getMaxErrorRateIncrease()) {
            c.errorBreach = String.format(
                    Locale.ROOT,
                    "error rate %.4f vs stable %.4f: increase %.4f > max %.4f (%d/%d candidate requests failed)",
                    candidate.errorRate(),
                    stable.errorRate(),
                    increase,
                    g.getMaxErrorRateIncrease(),
                    candidate.errors(),
                    candidate.requests());
        }
        if (stable.p99Millis() > 0 && candidate.p99Millis() / stable.p99Millis() > g.getMaxP99LatencyRatio()) {
            c.latencyBreach = String.format(
                    Locale.ROOT,
                    "p99 latency %.1f ms vs stable %.1f ms: ratio %.2f > max %.2f",
                    candidate.p99Millis(),
                    stable.p99Millis(),
                    candidate.p99Millis() / stable.p99Millis(),
                    g.getMaxP99LatencyRatio());
        }
        c.psi = psi(candidate.scoreHistogram(), stable.scoreHistogram());
        if (c.psi > g.getMaxScorePsi()) {
            c.psiBreach = String.format(Locale.ROOT, "score PSI %.4f > max %.4f", c.psi, g.getMaxScorePsi());
        }
        return c;
    }

    private final class Check {
        VersionWindow candidate;
        VersionWindow stable;
        double psi;
        String errorBreach;
        String latencyBreach;
        String psiBreach;

        String firstBreach() {
            return errorBreach != null ? errorBreach : latencyBreach != null ? latencyBreach : psiBreach;
        }

        GuardrailCheck proto(boolean passed, String detail) {
            return GuardrailCheck.newBuilder()
                    .setTime(now())
                    .setCandidateRequests(candidate.requests())
                    .setStableRequests(stable.requests())
                    .setCandidateErrorRate(candidate.errorRate())
                    .setStableErrorRate(stable.errorRate())
                    .setCandidateP99Ms(candidate.p99Millis())
                    .setStableP99Ms(stable.p99Millis())
                    .setScorePsi(psi)
                    .setPassed(passed)
                    .setDetail(detail)
                    .build();
        }
    }
}
