package dev.trellis.cli;

import static dev.trellis.cli.TrellisCli.fmt;

import com.google.protobuf.ByteString;
import com.google.protobuf.Value;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.cli.bench.BenchOptions;
import dev.trellis.cli.bench.BenchReport;
import dev.trellis.cli.bench.GrpcSenders;
import dev.trellis.cli.bench.LoadGenerator;
import dev.trellis.cli.bench.RequestSender;
import dev.trellis.client.FeatureSchema;
import dev.trellis.client.TrellisClient;
import dev.trellis.client.TrellisException;
import dev.trellis.common.text.DurationText;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelMetadataRequest;
import dev.trellis.proto.inference.ModelMetadataResponse;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code trellis bench}: an open- or closed-loop load generator over Score or ModelInfer. */
@Command(
        name = "bench",
        description = {
            "Load-tests the router (Score, --protocol trellis) or a model-server (ModelInfer, --protocol oip) with",
            "single-row requests built from a CSV. Open loop with --rate (latency from the intended send time: no",
            "coordinated omission), closed loop with --concurrency. Reports p50/p90/p99/p99.9, max, throughput, errors."
        },
        footer = {
            "",
            "Examples:",
            "  trellis bench --model leads --rate 2000 --duration 30s --warmup 5s",
            "  trellis bench --model leads --concurrency 16 --duration 30s",
            "  trellis bench --protocol oip --target localhost:8081 --model leads --concurrency 8"
        })
final class BenchCommand implements Callable<Integer> {
    /** Wire protocols the generator speaks. */
    enum Protocol {
        /** trellis.v1.Scoring/Score through the router. */
        trellis,
        /** inference.GRPCInferenceService/ModelInfer directly against a model-server. */
        oip
    }

    @ParentCommand
    TrellisCli root;

    @Spec
    CommandSpec spec;

    @Option(
            names = {"-h", "--help"},
            usageHelp = true,
            description = "Show this help message and exit.")
    boolean help;

    @Mixin
    OutputFormatMixin format;

    @Option(
            names = "--protocol",
            defaultValue = "trellis",
            description = "trellis (router, Score) or oip (model-server, ModelInfer); default: ${DEFAULT-VALUE}.")
    Protocol protocol;

    @Option(names = "--model", defaultValue = "leads", description = "Logical model name (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--version", description = "Pin a model version.")
    String version;

    @Option(
            names = "--data",
            defaultValue = "datasets/leads_coil2000_train.csv",
            paramLabel = "CSV",
            description = "Rows to send, cycled (default: ${DEFAULT-VALUE}).")
    Path data;

    @Option(names = "--id-column", description = "Column holding the unit id (default: the first *_id column).")
    String idColumn;

    @Option(names = "--rate", paramLabel = "REQ/S", description = "Open loop at this many requests per second.")
    Double rate;

    @Option(
            names = "--concurrency",
            defaultValue = "8",
            description =
                    "Closed loop: concurrent callers; open loop: cap on requests in flight x 100 (default: ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(
            names = "--duration",
            defaultValue = "10s",
            converter = TrellisCli.DurationConverter.class,
            description = "Measured time (default: ${DEFAULT-VALUE}).")
    Duration duration;

    @Option(
            names = "--warmup",
            defaultValue = "2s",
            description = "Unmeasured time before (default: ${DEFAULT-VALUE}; 0 for none).")
    String warmup;

    @Option(
            names = "--max-rows",
            defaultValue = "100000",
            description = "Read at most this many rows of --data (default: ${DEFAULT-VALUE}).")
    int maxRows;

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (!Files.isReadable(data)) {
            throw new TrellisCli.UsageException("cannot read --data " + data);
        }
        if (rate != null && rate <= 0) {
            throw new TrellisCli.UsageException("--rate must be positive, got " + rate);
        }
        if (concurrency < 1) {
            throw new TrellisCli.UsageException("--concurrency must be at least 1, got " + concurrency);
        }
        if (duration.compareTo(Duration.ofHours(24)) > 0) {
            throw new TrellisCli.UsageException("--duration is bounded to 24h");
        }
        Duration warm;
        try {
            warm = DurationText.parse(warmup);
        } catch (IllegalArgumentException e) {
            throw new TrellisCli.UsageException("--warmup: " + e.getMessage());
        }
        BenchOptions options = rate != null
                ? BenchOptions.openLoop(rate, concurrency * 100, duration, warm)
                : BenchOptions.closedLoop(concurrency, duration, warm);
        PrintWriter out = spec.commandLine().getOut();
        try (TrellisClient client = root.client()) {
            RequestSender sender = protocol == Protocol.trellis ? scoreSender(client) : inferSender(client);
            System.err.println(fmt(
                    "bench %s %s on %s: %s",
                    protocol,
                    model,
                    root.target,
                    rate != null ? fmt("open loop %.0f req/s", rate) : fmt("closed loop, %d callers", concurrency)));
            BenchReport report = new LoadGenerator().run(options, sender);
            if (format.json(root)) {
                Map<String, Object> json = new LinkedHashMap<>();
                json.put("protocol", protocol.name());
                json.put("mode", options.openLoop() ? "open" : "closed");
                json.put("rate", options.rate());
                json.put("concurrency", options.concurrency());
                json.put("measured_seconds", report.measuredSeconds());
                json.put("succeeded", report.succeeded());
                json.put("failed", report.failed());
                json.put("throughput", report.throughput());
                json.put("p50_ms", report.percentileMillis(50));
                json.put("p90_ms", report.percentileMillis(90));
                json.put("p99_ms", report.percentileMillis(99));
                json.put("p999_ms", report.percentileMillis(99.9));
                json.put("max_ms", report.maxMillis());
                json.put("errors", report.errors());
                out.println(TrellisCli.toJson(json));
            } else {
                out.print(report.format());
            }
            out.flush();
            return report.succeeded() == 0 && report.failed() > 0 ? 1 : 0;
        }
    }

    private RequestSender scoreSender(TrellisClient client) throws IOException {
        FeatureSchema schema = client.model(model).schema(version);
        List<ScoreRequest> requests = new ArrayList<>();
        try (CsvRows rows = CsvRows.open(data, idColumn, schema)) {
            for (long n = 1; n <= maxRows; n++) {
                CsvRows.Row row = rows.next(n);
                if (row == null) {
                    break;
                }
                ScoreRequest.Builder request = row.request().setModel(model);
                if (version != null) {
                    request.setVersion(version);
                }
                requests.add(request.build());
            }
        }
        if (requests.isEmpty()) {
            throw new TrellisCli.UsageException(data + " has no rows");
        }
        return GrpcSenders.score(client.channel(), requests, client.defaultDeadline());
    }

    private RequestSender inferSender(TrellisClient client) throws IOException {
        ModelMetadataResponse metadata;
        try {
            metadata = GRPCInferenceServiceGrpc.newBlockingStub(client.channel())
                    .withDeadlineAfter(client.defaultDeadline().toMillis(), TimeUnit.MILLISECONDS)
                    .modelMetadata(ModelMetadataRequest.newBuilder()
                            .setName(model)
                            .setVersion(version == null ? "" : version)
                            .build());
        } catch (StatusRuntimeException e) {
            throw TrellisException.from(e);
        }
        List<FeatureSchema.Feature> features = metadata.getInputsList().stream()
                .map(t -> new FeatureSchema.Feature(t.getName(), t.getDatatype()))
                .toList();
        FeatureSchema schema = new FeatureSchema(features);
        List<ModelInferRequest> requests = new ArrayList<>();
        try (CsvRows rows = CsvRows.open(data, idColumn, schema)) {
            for (long n = 1; n <= maxRows; n++) {
                CsvRows.Row row = rows.next(n);
                if (row == null) {
                    break;
                }
                ModelInferRequest.Builder request =
                        ModelInferRequest.newBuilder().setModelName(model).setId(row.id());
                if (version != null) {
                    request.setModelVersion(version);
                }
                Map<String, Value> values = row.request().getFeaturesMap();
                for (FeatureSchema.Feature f : features) {
                    Value v = values.get(f.name());
                    ModelInferRequest.InferInputTensor.Builder tensor = request.addInputsBuilder()
                            .setName(f.name())
                            .setDatatype(f.numeric() ? "FP32" : "BYTES")
                            .addShape(1);
                    if (f.numeric()) {
                        float x = v != null && v.hasNumberValue() ? (float) v.getNumberValue() : Float.NaN;
                        tensor.setContents(InferTensorContents.newBuilder().addFp32Contents(x));
                    } else {
                        String s = v != null && v.hasStringValue() ? v.getStringValue() : "";
                        tensor.setContents(InferTensorContents.newBuilder()
                                .addBytesContents(ByteString.copyFrom(s, StandardCharsets.UTF_8)));
                    }
                }
                requests.add(request.build());
            }
        }
        if (requests.isEmpty()) {
            throw new TrellisCli.UsageException(data + " has no rows");
        }
        return GrpcSenders.modelInfer(client.channel(), requests, client.defaultDeadline());
    }
}
