package dev.trellis.modelserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.inject.AbstractModule;
import com.google.inject.Module;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.common.auth.BearerToken;
import dev.trellis.common.testing.TestPki;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.repository.BundleReader;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * KServe v2 REST over HTTPS with real HTTPS requests ({@code java.net.http.HttpClient}) against a
 * model-server whose gRPC port has TLS: the same certificate, the same client-certificate policy
 * (mutual TLS), the same protocols and cipher suites as gRPC, and the same token rules over it.
 */
class RestTlsTest {
    private static final String TOKEN = "rest-tls-inference-token-0123456789";
    private static final String INFER_BODY = "{\"inputs\":["
            + "{\"name\":\"tenure\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[3,40]},"
            + "{\"name\":\"monthly_charges\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[20.5,null]},"
            + "{\"name\":\"plan\",\"datatype\":\"BYTES\",\"shape\":[2],\"data\":[\"premium\",null]}]}";

    @TempDir
    Path repository;

    @TempDir
    Path certificates;

    private TestPki pki;
    private TestPki other;
    private ModelServer server;

    @BeforeEach
    void createCas() {
        pki = TestPki.create(certificates, "trellis");
        other = TestPki.create(certificates, "other");
    }

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.close();
        }
    }

    private void start(UnaryOperator<ModelServerConfig.Builder> configure) throws Exception {
        FakeBundleReader.install(repository, "churn", 1, "-1.0");
        FakeBundleReader reader = new FakeBundleReader();
        Module fakes = new AbstractModule() {
            @Override
            protected void configure() {
                bind(BundleReader.class).toInstance(reader);
            }
        };
        TestPki.Pem serverPem = pki.server("model-server");
        ModelServerConfig config = configure
                .apply(ModelServerConfig.builder(repository)
                        .host("127.0.0.1")
                        .port(0)
                        .metricsPort(-1)
                        .httpPort(0)
                        .pollInterval(Duration.ofHours(1))
                        .inferenceToken(BearerToken.of(TOKEN))
                        .tls(serverPem.certificate(), serverPem.privateKey()))
                .build();
        server = ModelServer.start(config, ModelServer::nettyTransport, List.of(fakes));
        server.awaitReady(Duration.ofSeconds(30));
    }

    private static HttpClient client(SSLContext ssl) {
        return HttpClient.newBuilder()
                .sslContext(ssl)
                .connectTimeout(Duration.ofSeconds(10))
                .build();
    }

    private HttpResponse<String> get(HttpClient client, String scheme, String path) throws Exception {
        return client.send(
                HttpRequest.newBuilder(URI.create(scheme + "://localhost:" + server.httpPort() + path))
                        .timeout(Duration.ofSeconds(30))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> infer(HttpClient client, String token) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(
                        URI.create("https://localhost:" + server.httpPort() + "/v2/models/churn/infer"))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(INFER_BODY));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static Map<String, Value> json(String body) throws Exception {
        Struct.Builder struct = Struct.newBuilder();
        JsonFormat.parser().merge(body, struct);
        return struct.getFieldsMap();
    }

    private static List<Double> scores(HttpResponse<String> response) throws Exception {
        return json(response.body()).get("outputs").getListValue().getValuesList().stream()
                .map(Value::getStructValue)
                .filter(output ->
                        output.getFieldsMap().get("name").getStringValue().equals("score"))
                .flatMap(output -> output.getFieldsMap().get("data").getListValue().getValuesList().stream())
                .map(Value::getNumberValue)
                .toList();
    }

    @Test
    void tls_servesHttpsWithTheGrpcCertificate_refusesPlainHttpAndClientsThatDoNotTrustIt() throws Exception {
        start(config -> config);
        HttpClient trusting = client(pki.sslContext(null));

        HttpResponse<String> ready = get(trusting, "https", "/v2/health/ready");
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(json(ready.body()).get("ready").getBoolValue()).isTrue();
        HttpResponse<String> scored = infer(trusting, TOKEN);
        assertThat(scored.statusCode()).as(scored.body()).isEqualTo(200);
        assertThat(scores(scored))
                .hasSize(2)
                .allSatisfy(score -> assertThat(score).isBetween(0.0, 1.0));
        // the token rules hold over HTTPS as over gRPC
        HttpResponse<String> noToken = infer(trusting, null);
        assertThat(noToken.statusCode()).isEqualTo(401);
        assertThat(json(noToken.body()).get("reason").getStringValue()).isEqualTo("MISSING_CREDENTIAL");

        // plain HTTP to the TLS port: the server answers no HTTP, it drops the connection
        assertThatThrownBy(() -> get(HttpClient.newHttpClient(), "http", "/v2/health/ready"))
                .isInstanceOf(IOException.class);
        // a client that trusts another CA (or only the JVM's trust store) refuses the certificate
        assertThatThrownBy(() -> get(client(other.sslContext(null)), "https", "/v2/health/ready"))
                .isInstanceOf(SSLHandshakeException.class);
        assertThatThrownBy(() -> get(client(SSLContext.getDefault()), "https", "/v2/health/ready"))
                .isInstanceOf(SSLHandshakeException.class);

        assertThat(get(trusting, "https", "/v2/health/live").statusCode()).isEqualTo(200);
    }

    @Test
    void mutualTls_requiresAClientCertificateOfTheClientCa_asTheGrpcPortDoes() throws Exception {
        start(config -> config.tlsClientCa(pki.caCertificate()));
        HttpClient router = client(pki.sslContext(pki.client("router")));

        assertThat(get(router, "https", "/v2/health/ready").statusCode()).isEqualTo(200);
        HttpResponse<String> scored = infer(router, TOKEN);
        assertThat(scored.statusCode()).as(scored.body()).isEqualTo(200);
        assertThat(scores(scored)).hasSize(2);

        // no client certificate, or one another CA signed: the handshake fails, no request is served
        for (SSLContext refused : List.of(pki.sslContext(null), pki.sslContext(other.client("intruder")))) {
            assertThatThrownBy(() -> infer(client(refused), TOKEN)).isInstanceOf(IOException.class);
            assertThatThrownBy(() -> get(client(refused), "https", "/v2/health/ready"))
                    .isInstanceOf(IOException.class);
        }

        assertThat(infer(router, TOKEN).statusCode()).isEqualTo(200);
    }

    @Test
    void tls_allowsOnlyTheGrpcPortsProtocolsAndCipherSuites() throws Exception {
        start(config -> config);
        SSLContext ssl = pki.sslContext(null);

        // TLS 1.2 with a forward-secret AEAD suite (one gRPC allows) is served ...
        SSLParameters gcm =
                new SSLParameters(new String[] {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}, new String[] {"TLSv1.2"});
        assertThat(get(
                                HttpClient.newBuilder()
                                        .sslContext(ssl)
                                        .sslParameters(gcm)
                                        .build(),
                                "https",
                                "/v2")
                        .statusCode())
                .isEqualTo(200);
        // ... the same key exchange with a CBC suite (which the JDK would otherwise negotiate) is not
        SSLParameters cbc =
                new SSLParameters(new String[] {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"}, new String[] {"TLSv1.2"});
        assertThatThrownBy(() -> get(
                        HttpClient.newBuilder()
                                .sslContext(ssl)
                                .sslParameters(cbc)
                                .build(),
                        "https",
                        "/v2"))
                .isInstanceOf(SSLHandshakeException.class);
    }
}
