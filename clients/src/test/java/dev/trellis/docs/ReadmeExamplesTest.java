package dev.trellis.docs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.api.v1.ExperimentsProto;
import dev.trellis.api.v1.ScoringProto;
import dev.trellis.proto.inference.GrpcServiceProto;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * grpcurl is not installed on the build machine, so the README's grpcurl examples cannot be run
 * here. This keeps them from rotting: every {@code grpcurl -d '<json>' ... service/Method} in the
 * README must name a real method and its JSON must parse, strictly (unknown fields rejected), into
 * that method's request type, exactly as grpcurl would encode it.
 */
class ReadmeExamplesTest {
    private static final Pattern METHOD = Pattern.compile("([a-z]\\w*(?:\\.\\w+)*\\.[A-Z]\\w*)/([A-Z]\\w*)");

    @Test
    void readme_everyGrpcurlPayloadParsesIntoItsMethodsRequest() throws Exception {
        String readme = Files.readString(readme());
        Map<String, ServiceDescriptor> services = new HashMap<>();
        for (FileDescriptor file : List.of(
                ScoringProto.getDescriptor(), ExperimentsProto.getDescriptor(), GrpcServiceProto.getDescriptor())) {
            for (ServiceDescriptor service : file.getServices()) {
                services.put(service.getFullName(), service);
            }
        }

        List<String> checked = new ArrayList<>();
        int at = 0;
        while ((at = readme.indexOf("grpcurl", at)) >= 0) {
            int lineEnd = commandEnd(readme, at);
            int data = readme.indexOf("-d '", at);
            if (data < 0 || data > lineEnd) {
                at = lineEnd;
                continue;
            }
            int jsonStart = data + 4;
            int jsonEnd = readme.indexOf('\'', jsonStart);
            String json = readme.substring(jsonStart, jsonEnd);
            Matcher method = METHOD.matcher(readme);
            if (!method.find(jsonEnd)) {
                fail("no service/Method after the grpcurl payload " + json);
            }
            ServiceDescriptor service = services.get(method.group(1));
            assertThat(service).as("service %s in the README", method.group(1)).isNotNull();
            MethodDescriptor rpc = service.findMethodByName(method.group(2));
            assertThat(rpc)
                    .as("method %s/%s in the README", method.group(1), method.group(2))
                    .isNotNull();

            DynamicMessage.Builder request = DynamicMessage.newBuilder(rpc.getInputType());
            JsonFormat.parser().merge(json, request);
            checked.add(rpc.getFullName());
            at = method.end();
        }

        assertThat(checked)
                .as("grpcurl examples found")
                .hasSizeGreaterThanOrEqualTo(8)
                .contains(
                        "trellis.v1.Scoring.Score",
                        "trellis.v1.Scoring.ScoreBatch",
                        "inference.GRPCInferenceService.ModelInfer");
    }

    /** The end of a shell command: the first newline not preceded by a backslash continuation. */
    private static int commandEnd(String text, int from) {
        int i = from;
        while (true) {
            int newline = text.indexOf('\n', i);
            if (newline < 0) {
                return text.length();
            }
            int quote = text.indexOf("-d '", from);
            boolean insideJson = quote >= 0 && quote < newline && text.indexOf('\'', quote + 4) > newline;
            if (text.charAt(newline - 1) != '\\' && !insideJson) {
                return newline;
            }
            i = newline + 1;
        }
    }

    private static Path readme() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("README.md");
            if (Files.exists(candidate) && Files.exists(dir.resolve("clients"))) {
                return candidate;
            }
        }
        throw new IllegalStateException(
                "README.md not found above " + Path.of("").toAbsolutePath());
    }
}
