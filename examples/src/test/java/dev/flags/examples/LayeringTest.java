package dev.flags.examples;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The module directions of DESIGN.md, enforced on the compiled classes of every module. */
class LayeringTest {

    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages("dev.flags");
    }

    @Test
    void coreImportsNoneOfTheOthers() {
        noClasses().that().resideInAPackage("dev.flags.core..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.flags.server..", "dev.flags.client..", "dev.flags.protocol..",
                        "dev.flags.cli..", "dev.flags.examples..")
                .check(classes);
    }

    @Test
    void theClientNeverImportsTheServer() {
        noClasses().that().resideInAPackage("dev.flags.client..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.flags.server..", "dev.flags.cli..")
                .check(classes);
    }

    @Test
    void theServerNeverImportsTheClient() {
        noClasses().that().resideInAPackage("dev.flags.server..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.flags.client..", "dev.flags.cli..", "dev.flags.examples..")
                .check(classes);
    }

    @Test
    void theJournalKnowsNothingOfFlagsItStoresOnlyJson() {
        // so that another backend (a replicated database) can replace it without touching flags-core
        noClasses().that().resideInAPackage("dev.flags.server.journal..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.flags.core..", "dev.flags.server.http..", "dev.flags.server.sync..")
                .check(classes);
    }

    @Test
    void theCommandLineUsesOnlyCore() {
        noClasses().that().resideInAPackage("dev.flags.cli..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.flags.server..", "dev.flags.client..", "dev.flags.protocol..")
                .check(classes);
    }

    @Test
    void theBillingExampleUsesOnlyPublicApiOfTheSdk() {
        noClasses().that().resideInAPackage("dev.flags.examples.billing..")
                .should().dependOnClassesThat().resideInAnyPackage("..internal..", "dev.flags.server..", "dev.flags.protocol..")
                .check(classes);
    }
}
