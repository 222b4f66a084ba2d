package dev.trellis.router.monitoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.DriftSeverity;
import dev.trellis.api.v1.DriftVerdict;
import dev.trellis.api.v1.GetDriftRequest;
import dev.trellis.api.v1.GetDriftResponse;
import dev.trellis.api.v1.GetProfileRequest;
import dev.trellis.api.v1.GetProfileResponse;
import dev.trellis.api.v1.ReplicaMonitoringGrpc;
import dev.trellis.api.v1.VersionDrift;
import dev.trellis.common.monitoring.Baseline;
import dev.trellis.common.monitoring.DriftCalculator;
import dev.trellis.common.monitoring.DriftReport;
import dev.trellis.common.monitoring.DriftThresholds;
import dev.trellis.common.monitoring.FeatureDrift;
import dev.trellis.common.monitoring.FeatureProfile;
import dev.trellis.common.monitoring.Profiles;
import dev.trellis.router.config.RouterConfig;
import dev.trellis.router.errors.RouterErrorCode;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.upstream.CatalogSnapshot;
import dev.trellis.router.upstream.ModelCatalog;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drift of a model's versions over all replicas: asks every replica that has the version READY for
 * its profile (in parallel, on the catalog's control channels), merges their windows and compares
 * them with the bundle's baseline. Replicas that do not answer in time are left out and not listed.
 * Thread-safe.
 */
public final class DriftService {
    private static final Logger log = LoggerFactory.getLogger(DriftService.class);
    private static final long PROFILE_DEADLINE_MILLIS = 5_000;

    private final ModelCatalog catalog;
    private final DriftCalculator calculator;

    @Inject
    public DriftService(ModelCatalog catalog, RouterConfig config) {
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.calculator =
                new DriftCalculator(requireNonNull(config, "config is null").driftThresholds());
    }

    public GetDriftResponse drift(GetDriftRequest request) {
        CatalogSnapshot.Model model = knownModel(catalog, request.getModel());
        List<CatalogSnapshot.Version> versions = versions(model, request.getVersion());
        GetDriftResponse.Builder response = GetDriftResponse.newBuilder();
        for (CatalogSnapshot.Version version : versions) {
            response.addVersions(drift(model.name(), version));
        }
        return response.build();
    }

    /** The model, refreshing the catalog once if it does not know it yet. */
    static CatalogSnapshot.Model knownModel(ModelCatalog catalog, String name) {
        if (name.isEmpty()) {
            throw RouterException.invalidRequest(
                    "model is required", List.of(new RouterException.Violation("model", "model is required")));
        }
        return catalog.snapshot()
                .model(name)
                .or(() -> catalog.refreshOnDemand().model(name))
                .orElseThrow(() -> new RouterException(
                        RouterErrorCode.UNKNOWN_MODEL,
                        "unknown model '" + name + "'; known models: "
                                + new TreeSet<>(catalog.snapshot().models().keySet())));
    }

    private static List<CatalogSnapshot.Version> versions(CatalogSnapshot.Model model, String version) {
        if (version.isEmpty()) {
            return model.versionsDescending().stream()
                    .filter(CatalogSnapshot.Version::readyAnywhere)
                    .toList();
        }
        return List.of(model.version(version)
                .filter(CatalogSnapshot.Version::readyAnywhere)
                .orElseThrow(() -> new RouterException(
                        RouterErrorCode.UNKNOWN_VERSION,
                        "model '" + model.name() + "' has no ready version '" + version + "'; ready versions: "
                                + model.versionsDescending().stream()
                                        .filter(CatalogSnapshot.Version::readyAnywhere)
                                        .map(CatalogSnapshot.Version::version)
                                        .toList())));
    }

    private VersionDrift drift(String model, CatalogSnapshot.Version version) {
        Map<String, Future<GetProfileResponse>> calls = new LinkedHashMap<>();
        for (Map.Entry<String, CatalogSnapshot.ReplicaState> replica :
                new java.util.TreeMap<>(version.replicas()).entrySet()) {
            Optional<io.grpc.ManagedChannel> channel = catalog.replicaChannel(replica.getKey());
            if (replica.getValue().ready() && channel.isPresent()) {
                calls.put(
                        replica.getKey(),
                        ReplicaMonitoringGrpc.newFutureStub(channel.get())
                                .withDeadlineAfter(PROFILE_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
                                .getProfile(GetProfileRequest.newBuilder()
                                        .setModel(model)
                                        .setVersion(version.version())
                                        .build()));
            }
        }
        Map<String, GetProfileResponse> profiles = new LinkedHashMap<>();
        for (Map.Entry<String, Future<GetProfileResponse>> call : calls.entrySet()) {
            try {
                profiles.put(call.getKey(), call.getValue().get(PROFILE_DEADLINE_MILLIS + 500, TimeUnit.MILLISECONDS));
            } catch (ExecutionException e) {
                log.debug(
                        "profile of {} v{} from {} failed: {}",
                        model,
                        version.version(),
                        call.getKey(),
                        e.getCause().toString());
            } catch (TimeoutException e) {
                call.getValue().cancel(true);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RouterException(RouterErrorCode.CANCELLED, "interrupted while collecting profiles");
            }
        }
        if (profiles.isEmpty()) {
            throw new RouterException(
                    RouterErrorCode.NO_REPLICA,
                    "no replica serving " + model + " version " + version.version() + " returned its profile");
        }
        DriftReport report = report(profiles.values());
        return toProto(model, version.version(), report, List.copyOf(profiles.keySet()), calculator.thresholds());
    }

    /** The replicas' windows as one, against the baseline of the first replica that has it. */
    DriftReport report(java.util.Collection<GetProfileResponse> profiles) {
        Optional<Baseline> baseline = profiles.stream()
                .filter(GetProfileResponse::hasBaseline)
                .findFirst()
                .map(p -> fromProto(p.getBaseline()));
        Map<String, List<FeatureProfile>> windows = new LinkedHashMap<>();
        Map<String, Boolean> categorical = new LinkedHashMap<>();
        List<FeatureProfile> scores = new ArrayList<>();
        for (GetProfileResponse profile : profiles) {
            for (dev.trellis.api.v1.FeatureProfile f : profile.getFeaturesList()) {
                windows.computeIfAbsent(f.getName(), k -> new ArrayList<>()).add(fromProto(f));
                categorical.put(f.getName(), f.getCategorical());
            }
            scores.add(fromProto(profile.getScore()));
        }
        List<FeatureProfile> live = new ArrayList<>();
        windows.forEach((name, list) -> live.add(Profiles.mergeWindows(name, categorical.get(name), list)));
        return calculator.compare(baseline, live, Profiles.mergeWindows(FeatureProfile.SCORE, false, scores));
    }

    static Baseline fromProto(dev.trellis.api.v1.Baseline baseline) {
        return new Baseline(
                baseline.getRows(),
                baseline.getFeaturesList().stream().map(DriftService::fromProto).toList(),
                fromProto(baseline.getScore()));
    }

    static FeatureProfile fromProto(dev.trellis.api.v1.FeatureProfile p) {
        return new FeatureProfile(
                p.getName(),
                p.getCategorical(),
                p.getRows(),
                p.getMissing(),
                p.getValuesList().stream().mapToDouble(Double::doubleValue).toArray(),
                p.getEdgesList().stream().mapToDouble(Double::doubleValue).toArray(),
                p.getBinCountsList().stream().mapToLong(Long::longValue).toArray(),
                p.getCategoriesMap());
    }

    private static VersionDrift toProto(
            String model, String version, DriftReport report, List<String> replicas, DriftThresholds t) {
        VersionDrift.Builder out = VersionDrift.newBuilder()
                .setModel(model)
                .setVersion(version)
                .setVerdict(
                        switch (report.verdict()) {
                            case NO_DRIFT -> DriftVerdict.NO_DRIFT;
                            case DRIFT -> DriftVerdict.DRIFT;
                            case INSUFFICIENT_DATA -> DriftVerdict.INSUFFICIENT_DATA;
                            case NO_BASELINE -> DriftVerdict.NO_BASELINE;
                        })
                .setSummary(report.summary())
                .setLiveRows(report.liveRows())
                .setBaselineRows(report.baselineRows())
                .addAllReplicas(replicas)
                .setThresholds(dev.trellis.api.v1.DriftThresholds.newBuilder()
                        .setPsi(t.psi())
                        .setPsiWarn(t.psiWarn())
                        .setPValue(t.pValue())
                        .setKsStatistic(t.ksStatistic())
                        .setMissingRateChange(t.missingRateChange())
                        .setMinRows(t.minRows()));
        for (FeatureDrift f : report.features()) {
            out.addFeatures(dev.trellis.api.v1.FeatureDrift.newBuilder()
                    .setFeature(f.feature())
                    .setKind(f.categorical() ? "categorical" : "numeric")
                    .setSeverity(
                            switch (f.severity()) {
                                case OK -> DriftSeverity.OK;
                                case WARN -> DriftSeverity.WARN;
                                case DRIFTED -> DriftSeverity.DRIFTED;
                            })
                    .setPsi(f.psi())
                    .setKsStatistic(f.ksStatistic())
                    .setKsPValue(f.ksPValue())
                    .setChiSquare(f.chiSquare())
                    .setChiSquarePValue(f.chiSquarePValue())
                    .setBaselineMissingRate(f.baselineMissingRate())
                    .setLiveMissingRate(f.liveMissingRate())
                    .addAllReasons(f.reasons()));
        }
        return out.build();
    }
}
