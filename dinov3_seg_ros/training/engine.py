# Copyright 2026 The dinov3_seg_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""The training loop: stages of epochs over a frozen backbone, one head, exact resume.

Run directory: config.yaml (resolved), checkpoints/ (last, best, best-k), metrics.jsonl,
plots/ (loss.png, miou.png, per_class_iou.png), feature_cache/ (unless cache.dir is set).
Only rank 0 writes files; every rank runs the same collectives in the same order.
Resuming lives in resume.py, the metrics records and plots in run_log.py, the checkpoint
files in checkpointing.py.
"""

from dataclasses import asdict
import logging
import math
import os
import random
import time
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from dinov3_seg_ros.core.backbone import build_backbone
from dinov3_seg_ros.core.checkpoint import HeadCheckpoint
from dinov3_seg_ros.core.errors import CheckpointError, ConfigError
from dinov3_seg_ros.core.heads import ASPPHead, HeadConfig
from dinov3_seg_ros.training.checkpointing import (CheckpointKeeper, LAST, capture_rng,
                                                   load_training_checkpoint,
                                                   remove_interrupted_saves, restore_rng,
                                                   TrainingState)
from dinov3_seg_ros.training.distributed import all_reduce_sum, DistContext, sync_batchnorm
from dinov3_seg_ros.training.evaluation import batch_features, evaluate
from dinov3_seg_ros.training.feature_cache import backbone_fingerprint, open_or_build
from dinov3_seg_ros.training.loaders import (check_data_root, epoch_batches, eval_loader,
                                             fixed_size, open_split, train_loader)
from dinov3_seg_ros.training.losses import FocalDiceLoss, loss_size
from dinov3_seg_ros.training.optim import (autocast_dtype, build_optimizer, lr_factor,
                                           make_scaler, scheduler_state, set_lr, train_step)
from dinov3_seg_ros.training.resume import check_run_dir, resume_training
from dinov3_seg_ros.training.run_log import RunLog
from dinov3_seg_ros.training.train_config import dump_config, TrainConfig

LOGGER = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


class Trainer:
    """Trains an ASPP head on a frozen DINOv3 backbone as the config's stages describe."""

    def __init__(self, config: TrainConfig, ctx: DistContext, resume: str = '') -> None:
        self.config, self.ctx = config, ctx
        run = config.run
        self.ckpt_dir = os.path.join(run.dir, 'checkpoints')
        self.cache_root = config.cache.dir or os.path.join(run.dir, 'feature_cache')
        check_run_dir(run.dir, bool(resume))  # paths first: a wrong one is the only message
        check_data_root(config)
        payload = load_training_checkpoint(resume) if resume else None
        seed_everything(run.seed)
        try:
            self.backbone = build_backbone(config.model.backbone, config.model.backbone_weights,
                                           normalization=config.model.normalization)
        except CheckpointError as exc:
            raise CheckpointError(f'model.backbone_weights: {exc}') from None
        self.backbone.to(ctx.device)
        self.mean, self.std = list(self.backbone.mean), list(self.backbone.std)
        self.size = fixed_size(config)
        self.val_set = open_split(config, config.data.val_split, self.mean, self.std,
                                  config.data.max_val_images)
        self.class_names = list(self.val_set.class_names)
        torch.manual_seed(run.seed)
        self.head = ASPPHead(HeadConfig(self.backbone.embed_dim, len(self.class_names),
                                        **asdict(config.model.head))).to(ctx.device)
        self.head = sync_batchnorm(self.head, run.sync_batchnorm, ctx)
        self.model: torch.nn.Module = self.head
        if ctx.distributed:
            ids = [ctx.device.index] if ctx.device.type == 'cuda' else None
            self.model = DistributedDataParallel(self.head, device_ids=ids)
        loss = config.loss
        self.loss_size = loss_size(loss.target_size, self.size.height, self.size.width)
        self.loss_fn = FocalDiceLoss(loss.lambda_focal, loss.lambda_dice, loss.gamma, loss.alpha,
                                     config.data.ignore_index, self.loss_size)
        self.dtype = autocast_dtype(run.amp, ctx.device)
        self.state = TrainingState()
        self.keeper = CheckpointKeeper(self.ckpt_dir, run.keep_best)
        self.resume_payload: Optional[Dict[str, Any]] = None
        self.val_batches: Optional[torch.utils.data.DataLoader] = None
        self.rate = 0.0
        self.backbone_key = ''
        self.log = RunLog(run.dir, run.tensorboard, ctx.is_main)
        if payload is not None:
            self.state, self.resume_payload = resume_training(resume, payload, self.head,
                                                              config)
        if ctx.is_main:
            os.makedirs(self.ckpt_dir, exist_ok=True)
            remove_interrupted_saves(self.ckpt_dir)

    def run(self) -> Dict[str, Any]:
        """Train every remaining stage; returns {'best_miou', 'last_miou', 'checkpoint'}.

        config.yaml is (re)written only when there is something left to train, so a run's
        config never claims a schedule its checkpoints did not reach.
        """
        pos = self.state.position
        if pos.stage >= len(self.config.stages):
            LOGGER.warning('nothing to train: %s already completed its %d stages (%d epochs); '
                           'raise stages.N.epochs of the last stage to train more',
                           self.config.run.dir, len(self.config.stages), pos.global_epoch)
        elif self.ctx.is_main:
            dump_config(self.config, os.path.join(self.config.run.dir, 'config.yaml'))
            self.log.truncate_after(pos.step)
        while self.state.position.stage < len(self.config.stages):
            self._run_stage()
        if self.ctx.is_main:
            self.log.plot()
        self.log.close()
        return {'best_miou': self.state.best_miou, 'last_miou': self.state.last_miou,
                'checkpoint': os.path.join(self.ckpt_dir, LAST)}

    def _train_data(self, augment: bool, cached: bool) -> torch.utils.data.Dataset:
        cfg = self.config
        dataset = open_split(cfg, cfg.data.train_split, self.mean, self.std,
                             cfg.data.max_train_images, augment)
        if dataset.class_names != self.class_names:
            raise ConfigError(f'data: the classes of {cfg.data.train_split} and '
                              f'{cfg.data.val_split} differ')
        return self._cached(dataset, self.loss_size) if cached else dataset

    def _cached(self, dataset: Any, label_size: Optional[Tuple[int, int]] = None
                ) -> torch.utils.data.Dataset:
        if not self.backbone_key:  # hashes every weight of the frozen backbone: once per run
            self.backbone_key = backbone_fingerprint(self.backbone)
        return open_or_build(dataset, self.backbone, self.cache_root, self.ctx,
                             self.config.cache.batch_size, self.config.run.num_workers,
                             self.dtype, self.config.run.progress, self.backbone_key,
                             label_size)

    def _run_stage(self) -> None:
        cfg, pos = self.config, self.state.position
        stage = cfg.stages[pos.stage]
        lr = stage.lr or cfg.optim.lr
        cached = stage.feature_cache and not stage.augment
        dataset = self._train_data(stage.augment, cached)
        loader, sampler, seeded = train_loader(dataset, cfg, self.ctx)
        batches = epoch_batches(len(dataset), cfg, self.ctx)
        total = stage.epochs * batches
        optimizer = build_optimizer(self.head.parameters(), cfg.optim, lr)
        scaler = make_scaler(self.dtype, self.ctx.device)
        if self.resume_payload is not None:
            if pos.stage_step > 0:  # a new stage starts with a fresh optimizer
                optimizer.load_state_dict(self.resume_payload['optimizer'])
                scaler.load_state_dict(self.resume_payload['scaler'])
            restore_rng(self.resume_payload['rng'])
            self.resume_payload = None
        LOGGER.info('stage %d (%s): %d epochs of %d batches, lr %g, %s', pos.stage, stage.name,
                    stage.epochs, batches, lr, 'feature cache' if cached else 'live backbone')
        index = pos.stage
        while pos.stage == index:
            sampler.set_position(pos.global_epoch, pos.batch * cfg.optim.batch_size)
            seeded.set_epoch(pos.global_epoch)
            sums = self._train_epoch(loader, optimizer, scaler, lr, total, batches, cached)
            self._end_epoch(sums, optimizer, scaler, lr, total)

    def _train_epoch(self, loader: Any, optimizer: torch.optim.Optimizer,
                     scaler: torch.amp.GradScaler, lr: float, total: int, batches: int,
                     cached: bool) -> torch.Tensor:
        from tqdm import tqdm
        cfg, ctx, pos = self.config, self.ctx, self.state.position
        sums = torch.zeros(4, dtype=torch.float64, device=ctx.device)
        if self.state.epoch_sums and ctx.is_main:
            sums += torch.tensor(self.state.epoch_sums, dtype=torch.float64, device=ctx.device)
        bar = tqdm(total=batches, initial=pos.batch, unit='batch', dynamic_ncols=True,
                   desc=f'stage {pos.stage} epoch {pos.epoch + 1}',
                   disable=not (cfg.run.progress and ctx.is_main))
        self.model.train()
        start, images = time.perf_counter(), 0
        for batch in loader:
            set_lr(optimizer, lr * lr_factor(pos.stage_step, total, cfg.schedule))
            features, labels = batch_features(batch, None if cached else self.backbone,
                                              ctx.device, self.dtype)
            parts = train_step(self.model, features, labels, self.loss_fn, optimizer, scaler,
                               cfg.optim.grad_clip, self.dtype)
            n = len(labels)
            sums += torch.stack([parts.total.detach(), parts.focal.detach(), parts.dice.detach(),
                                 torch.ones((), device=ctx.device)]).double() * n
            pos.batch, pos.step, pos.stage_step = pos.batch + 1, pos.step + 1, pos.stage_step + 1
            images += n
            bar.update(1)
            if pos.step % cfg.run.log_every_steps == 0:
                rate = images * ctx.world_size / max(1e-9, time.perf_counter() - start)
                self._log_step(sums, optimizer, rate, bar)
            every = cfg.run.checkpoint_every_steps
            if every and pos.step % every == 0 and pos.batch < batches:
                self.state.epoch_sums = all_reduce_sum(sums.clone()).tolist()
                self._save(optimizer, scaler, lr, total)
        bar.close()
        self.rate = images * ctx.world_size / max(1e-9, time.perf_counter() - start)
        return all_reduce_sum(sums)

    def _log_step(self, sums: torch.Tensor, optimizer: torch.optim.Optimizer, rate: float,
                  bar: Any) -> None:
        loss = float(sums[0] / sums[3].clamp_min(1))
        if not math.isfinite(loss) and self.dtype != torch.float16:
            raise FloatingPointError(f'training diverged: loss {loss} at step '
                                     f'{self.state.position.step}; lower the learning rate')
        lr = optimizer.param_groups[0]['lr']
        bar.set_postfix(loss=f'{loss:.4f}', lr=f'{lr:.2e}', img_s=f'{rate:.1f}')
        if self.ctx.is_main:
            pos = self.state.position
            self.log.record({
                'kind': 'step', 'step': pos.step, 'stage': pos.stage,
                'epoch': pos.global_epoch + 1, 'loss': loss, 'lr': lr, 'images_per_s': rate})

    def _end_epoch(self, sums: torch.Tensor, optimizer: torch.optim.Optimizer,
                   scaler: torch.amp.GradScaler, lr: float, total: int) -> None:
        cfg, pos = self.config, self.state.position
        stage = cfg.stages[pos.stage]
        count = max(1.0, float(sums[3]))
        epoch = pos.global_epoch + 1
        record = {'kind': 'epoch', 'epoch': epoch, 'stage': pos.stage, 'step': pos.step,
                  'loss': float(sums[0]) / count, 'focal': float(sums[1]) / count,
                  'dice': float(sums[2]) / count, 'lr': optimizer.param_groups[0]['lr'],
                  'images_per_s': self.rate}
        if self.ctx.is_main:
            self.log.record(record)
        miou = None
        last_of_stage = pos.epoch + 1 == stage.epochs
        if last_of_stage or (pos.epoch + 1) % cfg.run.eval_every_epochs == 0:
            summary = self._evaluate()
            miou = summary['miou']
            self.state.last_miou = miou
            if self.ctx.is_main:
                self.log.record({
                    'kind': 'eval', 'epoch': epoch, 'stage': pos.stage, 'step': pos.step,
                    'miou': miou, 'pixel_accuracy': summary['pixel_accuracy'],
                    'val_loss': summary['val_loss'], 'pixels': summary['pixels'],
                    'images': summary['images'], 'per_class_iou': summary['per_class_iou']})
                self.log.plot()
        if self.ctx.is_main:
            LOGGER.info('epoch %d/%d (stage %d, epoch %d/%d): loss %.4f, val mIoU %s, %.1f img/s',
                        epoch, sum(s.epochs for s in cfg.stages), pos.stage, pos.epoch + 1,
                        stage.epochs, record['loss'],
                        'not evaluated' if miou is None else f'{miou:.4f}', self.rate)
        pos.epoch, pos.global_epoch, pos.batch = pos.epoch + 1, pos.global_epoch + 1, 0
        if last_of_stage:
            pos.stage, pos.epoch, pos.stage_step = pos.stage + 1, 0, 0
        self.state.epoch_sums = None
        self._save(optimizer, scaler, lr, total, miou, epoch)

    def _evaluate(self) -> Dict[str, Any]:
        if self.val_batches is None:
            data = self._cached(self.val_set) if self.config.cache.eval else self.val_set
            self.val_batches = eval_loader(data, self.config, self.ctx)
        return evaluate(self.head, self.val_batches, self.backbone, self.loss_fn,
                        self.class_names, self.config.data.ignore_index, self.ctx.device,
                        self.dtype)

    def _save(self, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, lr: float,
              total: int, miou: Optional[float] = None, epoch: int = 0) -> None:
        if not self.ctx.is_main:
            return
        pos, cfg = self.state.position, self.config
        state = {k: v.detach().to('cpu', copy=True) for k, v in self.head.state_dict().items()}
        checkpoint = HeadCheckpoint(
            state, self.head.config, self.class_names, self.backbone.spec.name, self.mean,
            self.std, str(self.size), metadata={
                'trained_with': 'dinov3-seg-train', 'dataset': os.path.abspath(cfg.data.root),
                'backbone_weights': os.path.basename(cfg.model.backbone_weights),
                'val_miou': self.state.last_miou, 'ignore_index': cfg.data.ignore_index})
        payload = checkpoint.to_payload()
        payload.update({
            'epoch': pos.global_epoch, 'step': pos.step, 'stage': pos.stage,
            'optimizer': optimizer.state_dict(), 'scaler': scaler.state_dict(),
            'scheduler': scheduler_state(pos.stage_step, total, lr, cfg.schedule),
            'rng': capture_rng(), 'config': cfg.to_dict(), 'metric': miou})
        self.keeper.save(payload, self.state, miou, epoch)
