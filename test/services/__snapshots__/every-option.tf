# The Artifact Registry setup of imagespec-gar: repository union-images in acme-ml · europe-west4.

variable "project" {
  description = "GCP project of the Artifact Registry repository"
  type        = string
  default     = "acme-ml"
}

variable "location" {
  description = "Artifact Registry location: the region of the Union data plane"
  type        = string
  default     = "europe-west4"
}

resource "google_artifact_registry_repository" "union_images" {
  project       = var.project
  location      = var.location
  repository_id = "union-images"
  format        = "DOCKER"
  mode          = "STANDARD_REPOSITORY"
  description   = "Team \"ML\" images: $${not a template} and 100%%{x}; it's fine"

  labels = {
    team        = "ml"
    cost-center = "r-and-d"
    managed-by  = "imagespec-gar"
  }

  docker_config {
    immutable_tags = true
  }

  # Cleanup policy: delete-untagged:30d
  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "imagespec-gar-delete-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "2592000s"
    }
  }
}

# The Union data plane (another project) may pull from the repository.
resource "google_artifact_registry_repository_iam_member" "union_images_data_plane_reader" {
  project    = google_artifact_registry_repository.union_images.project
  location   = google_artifact_registry_repository.union_images.location
  repository = google_artifact_registry_repository.union_images.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:acme-flyteworker-prod@acme-gcp-dataplane.iam.gserviceaccount.com"
}

# Union's remote image builder (the data plane's user role) may push to the repository.
resource "google_artifact_registry_repository_iam_member" "union_images_remote_builder_writer" {
  project    = google_artifact_registry_repository.union_images.project
  location   = google_artifact_registry_repository.union_images.location
  repository = google_artifact_registry_repository.union_images.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:acme-userflyterol-prod@acme-gcp-dataplane.iam.gserviceaccount.com"
}

# The data plane's operator proxy may read the repository's images.
resource "google_artifact_registry_repository_iam_member" "union_images_operator_proxy_reader" {
  project    = google_artifact_registry_repository.union_images.project
  location   = google_artifact_registry_repository.union_images.location
  repository = google_artifact_registry_repository.union_images.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:acme-backend-prod@acme-gcp-dataplane.iam.gserviceaccount.com"
}

# The repository exists already: Terraform adopts it instead of creating it (Terraform >= 1.5).
import {
  to = google_artifact_registry_repository.union_images
  id = "projects/acme-ml/locations/europe-west4/repositories/union-images"
}
