package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.client.FeatureSchema;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link CsvScanner} reads what commons-csv's RFC 4180 format (surrounding spaces ignored) reads. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class CsvScannerTest {
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

    @ParameterizedTest
    @ValueSource(
            strings = {
                "a,b,c\n1,2,3\n",
                "a,b,c\r\n1,2,3\r\n4,5,6",
                "a,b\r1,2\r3,4\r",
                "a,b\n\"x, y\",\"say \"\"hi\"\"\"\n",
                "a,b\n\"two\nlines\",2\n",
                "a,b\n  padded  ,\t tabbed\t\n",
                "a,b\n  \"  kept  \"  ,x\n",
                "a,b\n,\n,,\n",
                "a,b\n1,2\n\n3,4\n",
                "a,b\n1\n1,2,3\n",
                "a,b\nun\"quoted,2\n",
                "a\n\"\"\n\"\"\"\"\n",
                "a,b\n1,2",
                "a,b\n1,2\n\n",
                "\"lead_id\",\"STYPE\",N\n\"L00001\",\"Lower class large families\",12\n",
            })
    void next_readsTheRecordsCommonsCsvReads(String csv) throws IOException {
        assertThat(scanned(csv)).isEqualTo(commonsCsv(csv));
    }

    @Test
    void next_readsTheShippedDatasetsAsCommonsCsvDoes() throws IOException {
        for (String name : List.of("leads_coil2000_train.csv", "churn_telco_train.csv")) {
            Path file = ROOT.resolve("datasets").resolve(name);
            String csv = Files.readString(file, StandardCharsets.UTF_8);
            assertThat(scanned(csv)).as(name).isEqualTo(commonsCsv(csv)).hasSizeGreaterThan(1_000);
        }
    }

    @Test
    void next_aBufferBoundaryInsideAFieldOrALineBreak_changesNothing() throws IOException {
        StringBuilder csv = new StringBuilder("id,text\r\n");
        for (int i = 0; i < 20_000; i++) {
            csv.append(i)
                    .append(",\"quoted, with \"\"quotes\"\"\nand a line break ")
                    .append(i)
                    .append("\"\r\n");
        }
        assertThat(scanned(csv.toString())).isEqualTo(commonsCsv(csv.toString()));
    }

    @Test
    void position_isTheByteOffsetOfTheRecord() throws IOException {
        try (CsvScanner scanner = new CsvScanner(bytes("a,b\n1,2\r\n\"x\ny\",3\né,1\n2,3\n"))) {
            List<Long> positions = new ArrayList<>();
            while (scanner.next()) {
                positions.add(scanner.position());
            }
            assertThat(positions).containsExactly(0L, 4L, 9L, 17L, 22L);
        }
    }

    @Test
    void next_readsUtf8AcrossBufferBoundaries() throws IOException {
        StringBuilder csv = new StringBuilder("id,text\n");
        for (int i = 0; i < 20_000; i++) {
            csv.append(i)
                    .append(",\"ünïcødé \"\"🎯\"\"\",")
                    .append(i % 3 == 0 ? "€" : "x")
                    .append('\n');
        }
        assertThat(scanned(csv.toString())).isEqualTo(commonsCsv(csv.toString()));
    }

    @Test
    void next_skipsAByteOrderMarkAtTheStartOnly() throws IOException {
        assertThat(scanned("\uFEFFlead_id,x\nL1,\uFEFF\n"))
                .containsExactly(List.of("lead_id", "x"), List.of("L1", "\uFEFF"));
        assertThat(scanned("\uFEFF")).isEmpty();
        try (CsvScanner scanner = new CsvScanner(bytes("\uFEFFa\nb\n"))) {
            assertThat(scanner.next()).isTrue();
            assertThat(scanner.position()).as("byte offsets count the mark").isEqualTo(3);
        }
    }

    @Test
    void next_refusesBytesThatAreNotUtf8() {
        byte[] csv = {'a', ',', 'b', '\n', '1', ',', (byte) 0xC3, '\n'};
        assertThatThrownBy(() -> {
                    try (CsvScanner scanner = new CsvScanner(new ByteArrayInputStream(csv))) {
                        while (scanner.next()) {
                            // reads every record
                        }
                    }
                })
                .isInstanceOf(IOException.class)
                .hasMessageContaining("the CSV is not UTF-8: the record at byte 4");
    }

    @Test
    void number_readsAsTheSchemaDoes() throws IOException {
        String cells = "7,123456789,1234567890,-3,2.5,1e3, 42 ,,null,\"8\"";
        try (CsvScanner scanner = new CsvScanner(bytes(cells))) {
            assertThat(scanner.next()).isTrue();
            for (int i = 0; i < scanner.size(); i++) {
                Double expected = FeatureSchema.number(scanner.text(i));
                assertThat(Double.valueOf(scanner.number(i))).as("cell %d", i).isEqualTo(expected);
            }
            assertThat(scanner.number(0)).isEqualTo(7.0);
            assertThat(scanner.number(1)).isEqualTo(123_456_789.0);
            assertThat(scanner.number(7)).isNaN();
            assertThat(scanner.number(scanner.size() + 3))
                    .as("past the last field")
                    .isNaN();
        }
        try (CsvScanner scanner = new CsvScanner(bytes("abc,Infinity"))) {
            assertThat(scanner.next()).isTrue();
            assertThatThrownBy(() -> scanner.number(0)).isInstanceOf(NumberFormatException.class);
            assertThatThrownBy(() -> scanner.number(1)).isInstanceOf(NumberFormatException.class);
        }
    }

    @Test
    void next_refusesAnUnclosedQuoteAndTextAfterAClosingQuote() {
        assertThatThrownBy(() -> scanned("a\n\"open"))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("inside a quoted field");
        assertThatThrownBy(() -> scanned("a,b\n\"x\"y,2\n"))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("after the closing quote of field 1");
    }

    private static InputStream bytes(String csv) {
        return new ByteArrayInputStream(csv.getBytes(StandardCharsets.UTF_8));
    }

    private static List<List<String>> scanned(String csv) throws IOException {
        List<List<String>> records = new ArrayList<>();
        try (CsvScanner scanner = new CsvScanner(bytes(csv))) {
            for (List<String> record = scanner.nextStrings(); record != null; record = scanner.nextStrings()) {
                records.add(record);
            }
        }
        return records;
    }

    private static List<List<String>> commonsCsv(String csv) throws IOException {
        List<List<String>> records = new ArrayList<>();
        try (Reader reader = new StringReader(csv)) {
            for (CSVRecord record : CSVFormat.RFC4180
                    .builder()
                    .setIgnoreSurroundingSpaces(true)
                    .build()
                    .parse(reader)) {
                records.add(record.toList());
            }
        }
        return records;
    }
}
