package dev.trellis.router.auth;

import dev.trellis.api.v1.ExperimentsGrpc;
import dev.trellis.api.v1.MonitoringGrpc;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.common.auth.Access;
import dev.trellis.common.auth.AccessPolicy;
import io.grpc.health.v1.HealthGrpc;

/**
 * Who may call what on the router's public port, deny by default: health, reflection and the
 * read-only Experiments methods are open; Scoring needs the scoring token when one is configured;
 * every other method, including any added later, needs the admin token. The admin methods are
 * named too so that {@code RouterAccessTest} fails for a method nobody classified.
 */
public final class RouterAccess {
    public static final AccessPolicy POLICY = AccessPolicy.builder()
            .service(HealthGrpc.SERVICE_NAME, Access.OPEN)
            .service("grpc.reflection.v1.ServerReflection", Access.OPEN)
            .service("grpc.reflection.v1alpha.ServerReflection", Access.OPEN)
            .service(ScoringGrpc.SERVICE_NAME, Access.CLIENT)
            .methods(
                    Access.OPEN,
                    ExperimentsGrpc.getListExperimentsMethod(),
                    ExperimentsGrpc.getGetExperimentMethod(),
                    ExperimentsGrpc.getExplainAssignmentMethod(),
                    ExperimentsGrpc.getGetResultsMethod(),
                    ExperimentsGrpc.getGetRolloutMethod(),
                    ExperimentsGrpc.getListModelsMethod(),
                    MonitoringGrpc.getGetDriftMethod(),
                    MonitoringGrpc.getGetPerformanceMethod())
            .methods(
                    Access.ADMIN,
                    ExperimentsGrpc.getPutExperimentMethod(),
                    ExperimentsGrpc.getStopExperimentMethod(),
                    ExperimentsGrpc.getDeleteExperimentMethod(),
                    ExperimentsGrpc.getRecordOutcomeMethod(),
                    ExperimentsGrpc.getRecordOutcomesMethod(),
                    ExperimentsGrpc.getStartRolloutMethod(),
                    ExperimentsGrpc.getPauseRolloutMethod(),
                    ExperimentsGrpc.getResumeRolloutMethod(),
                    ExperimentsGrpc.getPromoteRolloutMethod(),
                    ExperimentsGrpc.getAbortRolloutMethod(),
                    ExperimentsGrpc.getSetDefaultVersionMethod(),
                    ExperimentsGrpc.getKeepVersionMethod(),
                    ExperimentsGrpc.getReleaseVersionMethod(),
                    // production rows (features of real units): as sensitive as writing outcomes
                    MonitoringGrpc.getExportPayloadsMethod())
            .build();

    private RouterAccess() {}
}
