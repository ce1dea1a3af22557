variable "proxmox_endpoint" {
  description = "The Proxmox VE API, such as https://pve.home.arpa:8006/."
  type        = string
}

variable "proxmox_api_token" {
  description = "A Proxmox API token: user@realm!name=secret."
  type        = string
  sensitive   = true
}

variable "proxmox_insecure" {
  description = "Accept Proxmox's self-signed certificate."
  type        = bool
  default     = true
}

variable "proxmox_node" {
  description = "The Proxmox node the VMs run on."
  type        = string
  default     = "pve"
}

variable "talos_iso" {
  description = "The Talos ISO in Proxmox storage, such as local:iso/talos-amd64.iso."
  type        = string
}

variable "cluster_name" {
  type    = string
  default = "homelab"
}

variable "nodes" {
  description = "The cluster's VMs: name => role (controlplane or worker) and static IP."
  type = map(object({
    role = string
    ip   = string
  }))
  default = {
    cp-1     = { role = "controlplane", ip = "192.168.1.50" }
    worker-1 = { role = "worker", ip = "192.168.1.51" }
    worker-2 = { role = "worker", ip = "192.168.1.52" }
  }
}

variable "cilium_version" {
  type    = string
  default = "1.16.5"
}

variable "github_owner" {
  description = "The owner of the repository holding gitops/."
  type        = string
}

variable "github_token" {
  description = "A token with contents:write on the repository (classic scope: repo)."
  type        = string
  sensitive   = true
}

variable "repository_name" {
  type = string
}

variable "github_branch" {
  type    = string
  default = "main"
}

variable "weir_version" {
  description = "Weir's version. Bump it and run tofu apply to upgrade the engine."
  type        = string
  default     = "0.1.0"
}
