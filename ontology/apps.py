from django.apps import AppConfig


class OntologyConfig(AppConfig):
    name = "ontology"
    verbose_name = "Ontology"
