package dev.trellis.cli;

import static dev.trellis.cli.TrellisCli.fmt;

import com.google.protobuf.util.Durations;
import dev.trellis.api.v1.GuardrailCheck;
import dev.trellis.api.v1.Guardrails;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutEvent;
import dev.trellis.client.TrellisClient;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.BiFunction;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code trellis rollout ...}: canary rollouts. */
@Command(
        name = "rollout",
        mixinStandardHelpOptions = true,
        description = "Starts, inspects and steers canary rollouts.",
        subcommands = {
            RolloutCommand.StartCommand.class,
            RolloutCommand.StatusCommand.class,
            RolloutCommand.PauseCommand.class,
            RolloutCommand.ResumeCommand.class,
            RolloutCommand.PromoteCommand.class,
            RolloutCommand.AbortCommand.class,
        })
final class RolloutCommand implements Callable<Integer> {
    @ParentCommand
    TrellisCli root;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(
                spec.commandLine(), "missing subcommand (start, status, pause, resume, promote, abort)");
    }

    @Command(
            name = "start",
            mixinStandardHelpOptions = true,
            description = "Starts a canary rollout of a candidate version (admin).",
            footer = {
                "",
                "Example:",
                "  trellis rollout start --model leads --stable 1 --candidate 2 --steps 5,25,50,100 --interval 5m --min-requests 200"
            })
    static final class StartCommand implements Callable<Integer> {
        @ParentCommand
        RolloutCommand parent;

        @Spec
        CommandSpec spec;

        @Mixin
        OutputFormatMixin format;

        @Option(names = "--model", required = true, description = "Logical model name.")
        String model;

        @Option(
                names = "--stable",
                required = true,
                paramLabel = "VERSION",
                description = "Version serving the rest of the traffic.")
        String stable;

        @Option(
                names = "--candidate",
                required = true,
                paramLabel = "VERSION",
                description = "Version being rolled out.")
        String candidate;

        @Option(
                names = "--steps",
                split = ",",
                paramLabel = "PERCENT",
                description = "Candidate percentages per step (default: 5,25,50,100).")
        List<Double> steps;

        @Option(
                names = "--interval",
                paramLabel = "DURATION",
                converter = TrellisCli.DurationConverter.class,
                description = "How long each step holds before guardrails are checked (default: 5m).")
        Duration interval;

        @Option(
                names = "--min-requests",
                paramLabel = "N",
                description = "Candidate requests needed per step (default: 100).")
        Long minRequests;

        @Option(
                names = "--max-error-rate-increase",
                paramLabel = "X",
                description = "Abort when candidate error rate exceeds stable's by more (default 0.01).")
        Double maxErrorRateIncrease;

        @Option(
                names = "--max-p99-ratio",
                paramLabel = "X",
                description = "Abort when candidate p99 exceeds this multiple of stable's (default 1.5).")
        Double maxP99Ratio;

        @Option(names = "--max-psi", paramLabel = "X", description = "Abort when score PSI exceeds this (default 0.2).")
        Double maxPsi;

        @Override
        public Integer call() {
            Rollout.Builder rollout = Rollout.newBuilder()
                    .setModel(model)
                    .setStableVersion(stable)
                    .setCandidateVersion(candidate);
            if (steps != null) {
                for (double step : steps) {
                    if (step <= 0 || step > 100) {
                        throw new TrellisCli.UsageException("--steps must be percentages in (0, 100], got " + step);
                    }
                }
                rollout.addAllSteps(steps);
            }
            if (interval != null) {
                rollout.setStepInterval(Durations.fromMillis(interval.toMillis()));
            }
            if (minRequests != null) {
                rollout.setMinCandidateRequests(minRequests);
            }
            Guardrails.Builder guardrails = Guardrails.newBuilder();
            if (maxErrorRateIncrease != null) {
                guardrails.setMaxErrorRateIncrease(maxErrorRateIncrease);
            }
            if (maxP99Ratio != null) {
                guardrails.setMaxP99LatencyRatio(maxP99Ratio);
            }
            if (maxPsi != null) {
                guardrails.setMaxScorePsi(maxPsi);
            }
            if (maxErrorRateIncrease != null || maxP99Ratio != null || maxPsi != null) {
                rollout.setGuardrails(guardrails);
            }
            try (TrellisClient client = parent.root.client()) {
                print(
                        client.startRollout(rollout.build()),
                        format.json(parent.root),
                        spec.commandLine().getOut());
            }
            return 0;
        }
    }

    /** Shared shape of the commands that name a model and act on its rollout. */
    abstract static class ModelAction implements Callable<Integer> {
        @ParentCommand
        RolloutCommand parent;

        @Spec
        CommandSpec spec;

        @Mixin
        OutputFormatMixin format;

        @Parameters(paramLabel = "MODEL", description = "Logical model name.")
        String model;

        abstract Rollout act(TrellisClient client);

        @Override
        public Integer call() {
            try (TrellisClient client = parent.root.client()) {
                print(act(client), format.json(parent.root), spec.commandLine().getOut());
            }
            return 0;
        }
    }

    /** A model action with an optional {@code --reason}. */
    abstract static class ReasonedAction extends ModelAction {
        @Option(names = "--reason", description = "Why; recorded in the rollout history.")
        String reason;

        Rollout act(TrellisClient client, BiFunction<String, String, Rollout> action) {
            return action.apply(model, reason);
        }
    }

    @Command(
            name = "status",
            mixinStandardHelpOptions = true,
            description = "Shows the model's current (or last) rollout.")
    static final class StatusCommand extends ModelAction {
        @Override
        Rollout act(TrellisClient client) {
            return client.getRollout(model);
        }
    }

    @Command(
            name = "pause",
            mixinStandardHelpOptions = true,
            description = "Holds the rollout at its current weight (admin).")
    static final class PauseCommand extends ReasonedAction {
        @Override
        Rollout act(TrellisClient client) {
            return act(client, client::pauseRollout);
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, description = "Resumes a paused rollout (admin).")
    static final class ResumeCommand extends ReasonedAction {
        @Override
        Rollout act(TrellisClient client) {
            return act(client, client::resumeRollout);
        }
    }

    @Command(
            name = "promote",
            mixinStandardHelpOptions = true,
            description = "Jumps to 100%% and makes the candidate the default (admin).")
    static final class PromoteCommand extends ReasonedAction {
        @Override
        Rollout act(TrellisClient client) {
            return act(client, client::promoteRollout);
        }
    }

    @Command(
            name = "abort",
            mixinStandardHelpOptions = true,
            description = "Sets the candidate's weight to 0 and ends the rollout (admin).")
    static final class AbortCommand extends ReasonedAction {
        @Override
        Rollout act(TrellisClient client) {
            return act(client, client::abortRollout);
        }
    }

    static void print(Rollout r, boolean json, PrintWriter out) {
        if (json) {
            out.println(TrellisCli.toJson(r));
            out.flush();
            return;
        }
        out.println(fmt("model       %s", r.getModel()));
        out.println(fmt("versions    stable %s -> candidate %s", r.getStableVersion(), r.getCandidateVersion()));
        out.println(fmt("state       %s%s", r.getState(), r.getReason().isEmpty() ? "" : " (" + r.getReason() + ")"));
        out.println(fmt(
                "weight      %.1f%% (step %d of %d: %s)",
                r.getCurrentWeight(), r.getCurrentStep() + 1, r.getStepsCount(), r.getStepsList()));
        if (r.hasStepInterval()) {
            out.println(fmt(
                    "interval    %s, min %d candidate requests",
                    Duration.ofMillis(Durations.toMillis(r.getStepInterval())), r.getMinCandidateRequests()));
        }
        if (r.hasLastCheck()) {
            GuardrailCheck c = r.getLastCheck();
            out.println(fmt(
                    "last check  %s: requests %d/%d, error rate %.4f vs %.4f, p99 %.1f vs %.1f ms, PSI %.3f%s",
                    c.getPassed() ? "passed" : "FAILED",
                    c.getCandidateRequests(),
                    c.getStableRequests(),
                    c.getCandidateErrorRate(),
                    c.getStableErrorRate(),
                    c.getCandidateP99Ms(),
                    c.getStableP99Ms(),
                    c.getScorePsi(),
                    c.getDetail().isEmpty() ? "" : " (" + c.getDetail() + ")"));
        }
        if (r.getHistoryCount() > 0) {
            out.println("history");
            for (RolloutEvent e : r.getHistoryList()) {
                out.println(fmt(
                        "  %s  %-9s %5.1f%%  %s",
                        Instant.ofEpochSecond(e.getTime().getSeconds()), e.getType(), e.getWeight(), e.getDetail()));
            }
        }
        out.flush();
    }
}
