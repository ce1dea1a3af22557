terraform {
  required_version = ">= 1.8"
  required_providers {
    proxmox = {
      source  = "bpg/proxmox"
      version = "~> 0.66"
    }
    talos = {
      source  = "siderolabs/talos"
      version = "~> 0.7"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.16"
    }
    weir = {
      source  = "weir/weir"
      version = "~> 0.1"
    }
  }
}

provider "proxmox" {
  endpoint  = var.proxmox_endpoint
  api_token = var.proxmox_api_token
  insecure  = var.proxmox_insecure
}

locals {
  # The cluster's client credentials, as Talos hands them out (base64).
  kube = talos_cluster_kubeconfig.this.kubernetes_client_configuration
}

provider "helm" {
  kubernetes {
    host                   = local.kube.host
    client_certificate     = base64decode(local.kube.client_certificate)
    client_key             = base64decode(local.kube.client_key)
    cluster_ca_certificate = base64decode(local.kube.ca_certificate)
  }
}

# Weir connects to the cluster with the same credentials, and to Git over HTTPS with the
# token as password. These values are unknown until the cluster exists: the provider plans
# without contacting anything, so one `tofu apply` creates the cluster and bootstraps it.
provider "weir" {
  kubernetes = {
    host                   = local.kube.host
    client_certificate     = base64decode(local.kube.client_certificate)
    client_key             = base64decode(local.kube.client_key)
    cluster_ca_certificate = base64decode(local.kube.ca_certificate)
  }
  git = {
    url    = "https://github.com/${var.github_owner}/${var.repository_name}.git"
    branch = var.github_branch
    http = {
      username = "git"
      password = var.github_token
    }
  }
}
