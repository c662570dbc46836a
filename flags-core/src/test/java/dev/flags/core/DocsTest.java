package dev.flags.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** docs/flag-format.md stays true: its example is valid, and its vectors are the tested ones. */
class DocsTest {

    private static final Path DOC = Path.of("..", "docs", "flag-format.md");

    @Test
    void theDocumentedExampleIsAValidFlagFileAndTheGoldenFile() throws IOException {
        String doc = Files.readString(DOC);
        Matcher m = Pattern.compile("```json\\n(.*?)```", Pattern.DOTALL).matcher(doc);
        List<String> blocks = new ArrayList<>();
        while (m.find()) {
            blocks.add(m.group(1));
        }
        assertThat(blocks).isNotEmpty();
        for (String block : blocks) {
            assertThat(FlagSet.fromJson(block).size()).isPositive();
        }
        assertThat(blocks.get(0).strip()).isEqualTo(FlagFormatTest.golden("flags-v1.json").strip());
    }

    @Test
    void everyTestedVectorIsInTheDocumentedTable() throws IOException {
        String doc = Files.readString(DOC);
        List<BucketingTest.Vector> vectors = BucketingTest.vectors().toList();
        for (BucketingTest.Vector v : vectors) {
            assertThat(doc).contains("| `" + v.salt() + "` | `" + v.key() + "` | " + v.murmur3() + " | "
                    + v.rolloutBucket() + " | " + v.variantBucket() + " |");
        }
    }
}
